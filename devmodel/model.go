package devmodel

import (
	"fmt"
	"math"

	"github.com/minimind-go/minimind/model"
)

// Model is a MiniMind model resident on a Device: the parameter slab (in
// model.Layout order), its gradients once training starts, the RoPE tables
// and the activations.
type Model struct {
	Config model.Config
	dev    Device
	params Buf // [P] in model.Layout order
	grads  Buf // [P], allocated by EnableGrads
	w, g   weights
	cos    Buf
	sin    Buf
	train  *acts
	infer  *acts
	// sortCount is uploadSort's counting table [V+1], reused.
	sortCount []int32
}

// New uploads p's weights to dev. The device keeps its own copy: call
// Download to bring trained weights back into p (checkpoints).
func New(dev Device, p *model.Params) (*Model, error) {
	c := p.Config
	m := &Model{Config: c, dev: dev}
	var err error
	if m.params, err = dev.Alloc(len(p.Data)); err != nil {
		return nil, fmt.Errorf("devmodel: parameters (%d floats): %w", len(p.Data), err)
	}
	if err := dev.Upload(m.params, p.Data); err != nil {
		return nil, fmt.Errorf("devmodel: upload parameters: %w", err)
	}
	if m.w, err = bind(&c, m.params); err != nil {
		return nil, err
	}
	cos, sin := c.RopeTables(c.MaxPositionEmbeddings)
	if m.cos, err = dev.Alloc(len(cos)); err != nil {
		return nil, err
	}
	if m.sin, err = dev.Alloc(len(sin)); err != nil {
		return nil, err
	}
	if err := dev.Upload(m.cos, cos); err != nil {
		return nil, err
	}
	if err := dev.Upload(m.sin, sin); err != nil {
		return nil, err
	}
	return m, nil
}

// Device is what the model runs on.
func (m *Model) Device() Device { return m.dev }

// NumParams is the length of the parameter slab.
func (m *Model) NumParams() int { return m.params.Len() }

// Download copies the device's weights into p.Data (same config), e.g.
// before a checkpoint is written.
func (m *Model) Download(p *model.Params) error {
	if len(p.Data) != m.params.Len() {
		return fmt.Errorf("devmodel: Download into %d parameters, the model has %d", len(p.Data), m.params.Len())
	}
	return m.dev.Download(p.Data, m.params)
}

// DownloadGrads copies the gradient slab into dst (tests, debugging).
func (m *Model) DownloadGrads(dst []float32) error {
	if m.grads.Len() == 0 {
		return fmt.Errorf("devmodel: no gradients yet")
	}
	return m.dev.Download(dst, m.grads)
}

// EnableGrads allocates the zeroed gradient slab if it is not there yet.
func (m *Model) EnableGrads() error {
	if m.grads.Len() > 0 || m.params.Len() == 0 {
		return nil
	}
	var err error
	if m.grads, err = m.dev.Alloc(m.params.Len()); err != nil {
		return fmt.Errorf("devmodel: gradients (%d floats): %w", m.params.Len(), err)
	}
	m.g, err = bind(&m.Config, m.grads)
	return err
}

// ZeroGrad clears the gradient slab (once per optimizer step).
func (m *Model) ZeroGrad() error {
	if err := m.EnableGrads(); err != nil {
		return err
	}
	m.dev.Zero(m.grads)
	return nil
}

// ActivationBytes is the training activation memory allocated so far.
func (m *Model) ActivationBytes() int64 {
	if m.train == nil {
		return 0
	}
	return m.train.bytes
}

// Reserve allocates the training activations for batches up to B×T now,
// so that a batch that does not fit fails here with the memory it needs.
func (m *Model) Reserve(B, T int) error {
	_, err := m.trainActs(B, B*T)
	return err
}

func (m *Model) trainActs(B, N int) (*acts, error) {
	if m.train == nil || m.train.maxN < N || m.train.maxB < B {
		if m.train != nil {
			// A device allocator has no per-buffer free here: growing is
			// refused rather than leaking the old table.
			return nil, fmt.Errorf("devmodel: batch of %d×%d rows after one of %d×%d: allocate for the largest batch first (Reserve)", B, N/B, m.train.maxB, m.train.maxN/m.train.maxB)
		}
		a, err := newActs(m.dev, &m.Config, B, N, true)
		if err != nil {
			return nil, fmt.Errorf("devmodel: training activations for %d×%d tokens (%s): %w", B, N/B, humanBytes(estimateActs(&m.Config, B, N, true)), err)
		}
		m.train = a
	}
	return m.train, nil
}

func (m *Model) inferActs(B, N int) (*acts, error) {
	if m.infer == nil || m.infer.maxN < N || m.infer.maxB < B {
		if m.infer != nil {
			return nil, fmt.Errorf("devmodel: batch of %d rows after one of %d: allocate for the largest batch first", N, m.infer.maxN)
		}
		a, err := newActs(m.dev, &m.Config, B, N, false)
		if err != nil {
			return nil, fmt.Errorf("devmodel: inference activations for %d×%d tokens: %w", B, N/B, err)
		}
		m.infer = a
	}
	return m.infer, nil
}

// estimateActs is the bytes newActs would allocate (for the message of a
// batch that does not fit): a dry run of the same table.
func estimateActs(c *model.Config, B, N int, training bool) int64 {
	a, _ := newActs(nil, c, B, N, training)
	return a.bytes
}

// checkBatch mirrors model's checks: a bad batch is an error, never a
// kernel panic or an out-of-range read on the device.
func (m *Model) checkBatch(ids []int32, B, T int) error {
	if B <= 0 || T <= 0 {
		return fmt.Errorf("devmodel: batch %d×%d must be positive", B, T)
	}
	if len(ids) != B*T {
		return fmt.Errorf("devmodel: %d token ids for a %d×%d batch", len(ids), B, T)
	}
	if T > m.Config.MaxPositionEmbeddings {
		return fmt.Errorf("devmodel: %d positions exceed max_position_embeddings %d", T, m.Config.MaxPositionEmbeddings)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("devmodel: token id %d at position %d is outside the vocabulary [0,%d)", id, i, m.Config.VocabSize)
		}
	}
	return nil
}

func (m *Model) checkLoss(ids, targets []int32, lossMask []float32, B, T int) error {
	if err := m.checkBatch(ids, B, T); err != nil {
		return err
	}
	if len(targets) != B*T || len(lossMask) != B*T {
		return fmt.Errorf("devmodel: targets (%d) and loss mask (%d) must have %d entries", len(targets), len(lossMask), B*T)
	}
	for i, t := range targets {
		if int(t) >= m.Config.VocabSize {
			return fmt.Errorf("devmodel: target id %d at position %d is outside the vocabulary", t, i)
		}
	}
	return nil
}

// ForwardBackward runs one micro-batch in training mode, as
// model.Model.ForwardBackward: ids, targets and lossMask are [B,T]; the
// gradient of CE + aux, times scale, is ADDED to the gradient slab. Up:
// ids, targets and the mask (12 bytes a token) and the positions sorted by
// token for the embedding gradient; down: 8 bytes per layer plus one, and
// the MoE group sizes.
func (m *Model) ForwardBackward(ids, targets []int32, lossMask []float32, B, T int, scale float32) (model.Stats, error) {
	if err := m.checkLoss(ids, targets, lossMask, B, T); err != nil {
		return model.Stats{}, err
	}
	if err := m.EnableGrads(); err != nil {
		return model.Stats{}, err
	}
	a, err := m.trainActs(B, B*T)
	if err != nil {
		return model.Stats{}, err
	}
	p := pass{Model: m, a: a, B: B, T: T, N: B * T, training: true}
	if err := p.upload(ids, targets, lossMask); err != nil {
		return model.Stats{}, err
	}
	if err := p.uploadSort(ids); err != nil {
		return model.Stats{}, err
	}
	if err := p.forward(); err != nil {
		return model.Stats{}, err
	}
	p.loss(lossMask, targets, scale)
	p.backward(scale)
	return p.stats()
}

// Loss runs the forward pass and the masked cross-entropy without
// gradients (training selects the balance loss), as model's Loss.
func (m *Model) Loss(ids, targets []int32, lossMask []float32, B, T int, training bool) (model.Stats, error) {
	if err := m.checkLoss(ids, targets, lossMask, B, T); err != nil {
		return model.Stats{}, err
	}
	var a *acts
	var err error
	if training {
		a, err = m.trainActs(B, B*T)
	} else {
		a, err = m.inferActs(B, B*T)
	}
	if err != nil {
		return model.Stats{}, err
	}
	p := pass{Model: m, a: a, B: B, T: T, N: B * T, training: training}
	if err := p.upload(ids, targets, lossMask); err != nil {
		return model.Stats{}, err
	}
	if err := p.forward(); err != nil {
		return model.Stats{}, err
	}
	p.loss(lossMask, targets, 0)
	return p.stats()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
