package cuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/minimind-go/minimind/internal/atomicfile"
)

// The CUDA C kernels ship inside the binary and are compiled by NVRTC for
// the GPU at hand, so one CGO_ENABLED=0 binary serves every architecture.
//
//go:embed src/*.cu src/*.cuh
var sources embed.FS

// commonHeader is the one header every .cu file includes; NVRTC is handed
// it by name, so the same files also compile with plain nvcc.
const commonHeader = "common.cuh"

// programSource returns the single NVRTC program (every .cu file, in name
// order, each still including common.cuh, whose include guard makes it
// count once) and the headers NVRTC must be given.
func programSource() (src string, headers map[string]string, err error) {
	names, err := fs.Glob(sources, "src/*.cu")
	if err != nil {
		return "", nil, fmt.Errorf("cuda: list kernel sources: %w", err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := sources.ReadFile(n)
		if err != nil {
			return "", nil, fmt.Errorf("cuda: read embedded %s: %w", n, err)
		}
		fmt.Fprintf(&b, "// ---- %s ----\n", filepath.Base(n))
		b.Write(data)
		b.WriteString("\n")
	}
	h, err := sources.ReadFile("src/" + commonHeader)
	if err != nil {
		return "", nil, fmt.Errorf("cuda: read embedded %s: %w", commonHeader, err)
	}
	return b.String(), map[string]string{commonHeader: string(h)}, nil
}

// cacheKey identifies one compiled module: a change to any source, header,
// compiler flag or NVRTC version gives a new key.
func cacheKey(src string, headers map[string]string, opts []string, nvrtcVersion string) string {
	h := sha256.New()
	write := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	write(src)
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		write(k)
		write(headers[k])
	}
	for _, o := range opts {
		write(o)
	}
	write(nvrtcVersion)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// cachePath returns <dir>/minimind/cuda/<key>-sm_XX.cubin (".ptx" for a
// PTX fallback). dir "" means os.UserCacheDir(), i.e. $XDG_CACHE_HOME or
// ~/.cache on Linux.
func cachePath(dir, key string, arch int, ptx bool) (string, error) {
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("cuda: kernel cache directory: %w", err)
		}
		dir = d
	}
	ext := "cubin"
	if ptx {
		ext = "ptx"
	}
	return filepath.Join(dir, "minimind", "cuda", fmt.Sprintf("%s-sm_%d.%s", key, arch, ext)), nil
}

// readCache returns the cached module at path, or nil when there is none.
// A cache that cannot be read is not an error: we recompile.
func readCache(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}

// writeCache stores a compiled module atomically, so a concurrent process
// never loads a torn file.
func writeCache(path string, image []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cuda: kernel cache: %w", err)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(image)
		return err
	})
}
