package devmodel

import (
	"fmt"

	"github.com/minimind-go/minimind/dist/nccl"
	"github.com/minimind-go/minimind/model"
)

// Resident is a Model and its Trainer as the training loop of package
// train drives them (train.Resident): the loop hands it each micro-batch
// and each step's decision, and gets the weights and moments back (Sync)
// before it saves or evaluates. It needs no import of package train.
type Resident struct {
	Model   *Model
	Trainer *Trainer
	nccl    *nccl.Comm // data-parallel ranks (ddp.go); nil: one process
}

// NewResident uploads p to dev and allocates gradients, moments and the
// activations for batches up to B × T (a batch that does not fit fails
// here, naming the memory it needs).
func NewResident(dev Device, p *model.Params, cfg AdamWConfig, B, T int) (*Resident, error) {
	m, err := New(dev, p)
	if err != nil {
		return nil, err
	}
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		return nil, err
	}
	if err := m.Reserve(B, T); err != nil {
		return nil, err
	}
	return &Resident{Model: m, Trainer: tr}, nil
}

// Name is the device's name and precision.
func (r *Resident) Name() string { return r.Model.dev.Name() }

// Load sets the weights, AdamW's moments and step count (a resumed run).
func (r *Resident) Load(params, m, v []float32, adamStep int) error {
	if len(params) != r.Model.NumParams() {
		return fmt.Errorf("devmodel: %d parameters for a model of %d", len(params), r.Model.NumParams())
	}
	if err := r.Model.dev.Upload(r.Model.params, params); err != nil {
		return err
	}
	return r.Trainer.UploadMoments(m, v, adamStep)
}

// ZeroGrad clears the gradients.
func (r *Resident) ZeroGrad() error { return r.Model.ZeroGrad() }

// ForwardBackward runs a micro-batch (Trainer.Micro: the loss scale
// applied).
func (r *Resident) ForwardBackward(ids, targets []int32, mask []float32, B, T int, scale float32) (model.Stats, error) {
	return r.Trainer.Micro(ids, targets, mask, B, T, scale)
}

// Unscale returns the step's gradient norm; overflow reports a loss-scaler
// skip (fp16's routine inf/NaN steps), which is not a diverged run.
func (r *Resident) Unscale() (norm float64, overflow bool, err error) {
	res, err := r.Trainer.Unscale()
	return res.GradNorm, res.Skipped && r.Trainer.Scaler != nil, err
}

// Apply clips to maxNorm and takes the AdamW step.
func (r *Resident) Apply(lr float32, maxNorm, norm float64) { r.Trainer.Apply(lr, maxNorm, norm) }

// Sync copies the weights, and the moments when m and v are non-nil, to
// the host; it returns AdamW's step count.
func (r *Resident) Sync(params, m, v []float32) (adamStep int, err error) {
	if err := r.Model.dev.Download(params, r.Model.params); err != nil {
		return 0, fmt.Errorf("devmodel: download weights: %w", err)
	}
	if m != nil {
		if err := r.Trainer.DownloadMoments(m, v); err != nil {
			return 0, fmt.Errorf("devmodel: download AdamW moments: %w", err)
		}
	}
	return r.Trainer.T, nil
}
