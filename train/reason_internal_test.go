package train

import (
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// A changed --think_weight is a schedule change on resume; an older
// state's 0 is the default 1.
func TestScheduleChangesThinkWeight(t *testing.T) {
	o := DefaultSFTOptions()
	w10 := o
	w10.ThinkWeight = 10
	old := o
	old.ThinkWeight = 0
	if got := scheduleChanges(w10, o); !slices.Equal(got, []string{"--think_weight 10 → 1"}) {
		t.Errorf("10 → 1: changes %q", got)
	}
	if got := scheduleChanges(old, o); len(got) != 0 {
		t.Errorf("0 (older state) → 1: changes %q, want none", got)
	}
	if got := scheduleChanges(w10, w10); len(got) != 0 {
		t.Errorf("10 → 10: changes %q, want none", got)
	}
}

type emptySFT struct{}

func (emptySFT) Kind() data.Kind                { return data.KindSFT }
func (emptySFT) Len() int                       { return 1 }
func (emptySFT) MaxSeqLen() int                 { return 4 }
func (emptySFT) Sample(int, *data.Sample) error { return nil }

// reasonData refuses what it cannot weigh, naming the flag, and leaves an
// unweighted run's data alone.
func TestReasonDataRefusals(t *testing.T) {
	dense := model.DefaultConfig()
	cfg := Config{Stage: StageSFT, Options: DefaultSFTOptions(), Data: emptySFT{}}
	if ds, err := reasonData(&cfg, &dense); err != nil || ds != cfg.Data {
		t.Errorf("think_weight 1: %v, %v; want the data unchanged", ds, err)
	}
	for _, c := range []struct {
		name   string
		weight float64
		mc     *model.Config
		data   data.Dataset
		want   string
	}{
		{"no tokenizer", 10, &dense, emptySFT{}, "--think_weight needs the tokenizer"},
		{"negative", -1, &dense, emptySFT{}, "--think_weight -1: want a finite weight > 0"},
		{"pretrain data", 10, &dense, emptyPretrain{}, "--think_weight 10 weighs SFT targets"},
	} {
		c2 := cfg
		c2.Options.ThinkWeight, c2.Data = c.weight, c.data
		if _, err := reasonData(&c2, c.mc); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

type emptyPretrain struct{ emptySFT }

func (emptyPretrain) Kind() data.Kind { return data.KindPretrain }
