package train

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"github.com/minimind-go/minimind/model"
)

// TrainingBytes estimates the memory one process needs to train c on
// micro-batches of B rows × T positions: the weights, gradients and both
// AdamW moments (16 bytes a parameter, as `minimind info` counts), plus
// the activations the model keeps for the backward pass, counted as
// model/acts.go allocates them. It errs on the high side by a few percent.
func TrainingBytes(c *model.Config, B, T int) int64 {
	C, F, V := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	kvC := int64(c.NumKeyValueHeads * c.HeadSize())
	NH, L := int64(c.NumAttentionHeads), int64(c.NumHiddenLayers)
	N := int64(B) * int64(T)
	// Per row and layer: residual, q, attention output, mid (4C), k and v,
	// two rstd, the log-sum-exp per head.
	perLayer := 4*C + 2*kvC + 2 + NH
	ffnRows := N // rows through one FFN of a layer
	if c.UseMoE {
		NK, E := N*int64(c.NumExpertsPerTok), int64(c.NRoutedExperts)
		perLayer += 2 * E // router logits and probabilities
		// The routed tokens' inputs and outputs, weights and indices.
		perLayer += (2*NK*C + 5*NK) / max(N, 1)
		ffnRows = NK + N*int64(c.NSharedExperts)
	}
	layers := L * (N*perLayer + 2*ffnRows*F) // gate and up
	// Shared by all layers: the FFN hidden, the norm and block outputs,
	// the final norm, logits, losses, positions, and the backward buffers
	// (dres, dln, dq, datt, dk, dv and the FFN's three).
	rows := max(N, ffnRows)
	shared := rows*F + N*(4*C+V+4) + N*(6*C+2*kvC) + 3*rows*F
	if c.UseMoE {
		NK, E := N*int64(c.NumExpertsPerTok), int64(c.NRoutedExperts)
		shared += 3*NK*C + 2*NK + 2*N*E
	}
	return 4*(layers+shared) + 16*int64(c.NumParams())
}

// checkMemory returns ErrMemory when training c on B × T would need more
// than avail reports (nil: /proc/meminfo's MemAvailable); an unknown
// amount skips the check.
func checkMemory(c *model.Config, B, T int, avail func() (int64, bool)) error {
	if avail == nil {
		avail = memAvailable
	}
	have, ok := avail()
	if !ok {
		return nil
	}
	need := TrainingBytes(c, B, T)
	if need <= have {
		return nil
	}
	return fmt.Errorf("train: --batch_size %d × %d positions (--max_seq_len %d) needs about %s for weights, gradients, AdamW and activations (%d bytes), but %s is available (%d bytes): %w; lower --batch_size or --max_seq_len (--accumulation_steps keeps the effective batch)",
		B, T, T+1, human(need), need, human(have), have, ErrMemory)
}

// human formats n bytes in GiB, or MiB below one GiB.
func human(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// memAvailable reads MemAvailable from /proc/meminfo (Linux); false
// elsewhere or when unreadable.
func memAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(b)
}

// parseMemAvailable returns the bytes of the "MemAvailable: N kB" line.
func parseMemAvailable(b []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil || kb < 0 {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}
