package train

import (
	"fmt"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/model"
)

// StageDistill is white-box distillation (`minimind distill`, upstream
// trainer/train_distillation.py): SFT data, the student from Init or
// OutDir's SFT checkpoint, the loss Distill against Config.Distill's
// teacher, weights saved as full_dist_{hidden}[_moe].pth.
const StageDistill = "distill"

// DistillConfig is StageDistill's teacher and loss.
type DistillConfig struct {
	// Teacher is the teacher's weights (HF directory or .pth; a .pth takes
	// the fields its shapes cannot tell, such as the head count, from
	// Config.Model). Any size or MoE; its vocabulary must hold the
	// student's.
	Teacher string
	Loss    Distill
}

// DefaultDistillOptions are upstream train_distillation.py's defaults:
// 6 epochs of batch 32 at lr 5e-6, max_seq_len 340, saving every 100
// steps.
func DefaultDistillOptions() Options {
	o := DefaultOptions()
	o.Epochs = 6
	o.BatchSize = 32
	o.LearningRate = 5e-6
	o.MaxSeqLen = 340
	o.SaveInterval = 100
	return o
}

// DefaultDistill is upstream's loss: α 0.5, T 1.5.
func DefaultDistill() Distill { return Distill{Alpha: 0.5, Temperature: 1.5} }

// studentPath returns the weights a distillation run starts from
// (sftStart; upstream's from_student_weight).
func (c *Config) studentPath() (string, error) { return c.sftStart("distill starts the student") }

// distiller loads the teacher on the student's backend (inference only:
// no gradients, no optimizer state) and returns the distillation step.
func (c *Config) distiller(student *model.Model) (*Distiller, error) {
	if c.Distill.Teacher == "" {
		return nil, fmt.Errorf("train: distill needs a teacher (--teacher)")
	}
	p, err := checkpoint.Load(c.Distill.Teacher, c.Model)
	if err != nil {
		return nil, fmt.Errorf("train: teacher %s: %w", c.Distill.Teacher, err)
	}
	d, err := NewDistiller(model.New(p, student.Backend()), &student.Config, c.Distill.Loss)
	if err != nil {
		return nil, fmt.Errorf("teacher %s: %w", c.Distill.Teacher, err)
	}
	return d, nil
}
