package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/minimind-go/minimind/jsonl"
)

// ErrNoRecords is wrapped when a JSONL file holds no record at all (it is
// empty or blank).
var ErrNoRecords = errors.New("no records: the file is empty or holds only blank lines")

// DetectKind returns the kind of a JSONL file (.jsonl or .jsonl.gz) from
// the keys of its first record: "text" is pretrain, "conversations" SFT,
// "chosen" and "rejected" DPO. RLAIF data looks like SFT and is reported as
// SFT.
func DetectKind(path string) (Kind, error) {
	r, err := jsonl.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	line, err := r.Next()
	if errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%s: %w", path, ErrNoRecords)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	first := r.Line() // blank lines before the first record are counted
	var keys map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(line)).Decode(&keys); err != nil {
		return 0, fmt.Errorf("read %s line %d: %w", path, first, err)
	}
	switch {
	case keys["text"] != nil:
		return KindPretrain, nil
	case keys["conversations"] != nil:
		return KindSFT, nil
	case keys["chosen"] != nil && keys["rejected"] != nil:
		return KindDPO, nil
	}
	return 0, fmt.Errorf("read %s line %d: neither \"text\" nor \"conversations\" (nor \"chosen\" and \"rejected\")", path, first)
}
