package train

import (
	"testing"

	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestLayoutSize: the closed form LoadResume screens configs with agrees
// with the model's layout.
func TestLayoutSize(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  model.Config
	}{
		{name: "tiny dense", cfg: modeltest.TinyConfig(false)},
		{name: "tiny moe", cfg: modeltest.TinyConfig(true)},
		{name: "default", cfg: model.DefaultConfig()},
		{name: "minimind3 moe", cfg: modeltest.TinyConfig3(true)},
		{name: "minimind3 untied", cfg: func() model.Config {
			c := modeltest.TinyConfig3(false)
			c.TieWordEmbeddings = false
			return c
		}()},
		{name: "moe without shared experts", cfg: func() model.Config {
			c := modeltest.TinyConfig(true)
			c.NSharedExperts = 0
			return c
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := layoutSize(&c.cfg), c.cfg.NumParams(); got != float64(want) {
				t.Errorf("layoutSize %.0f, NumParams %d", got, want)
			}
		})
	}
}
