// Package quickstart holds the small sample of ../shared/corpus that
// `minimind quickstart` trains on, embedded in the binary so that the
// quickstart runs on a fresh machine with nothing else. See README.md in
// this folder for what the sample is and its licences.
package quickstart

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed data/*.gz data/licenses/* README.md
var files embed.FS

// Files of the sample, relative to the directory Extract writes.
const (
	Pretrain = "pretrain.jsonl.gz" // {"text"}: Chinese poetry and English prose
	SFT      = "sft.jsonl.gz"      // {"conversations"}: poetry, WordNet and Debian FAQ Q&A
	Eval     = "eval.jsonl.gz"     // {"text"}: held-out poetry
)

// Extract writes the sample and its licence notices into dir.
func Extract(dir string) error {
	return fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("data", path)
		if path == "README.md" {
			rel = "README.md"
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("quickstart: %w", err)
		}
		return nil
	})
}
