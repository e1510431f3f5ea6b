package train

// Options are a training run's hyper-parameters, with the seed's flag names
// in the comments. Every default lives in DefaultOptions (pretraining) and
// DefaultSFTOptions; the CLI's flag defaults are read from them. A run's
// Options are stored in its resume state.
type Options struct {
	Epochs        int         // --epochs: passes over the data
	BatchSize     int         // --batch_size: sequences per micro-batch, per rank
	MaxSeqLen     int         // --max_seq_len: tokens per sample (the dataset's; Run records the one it trained with)
	Accumulation  int         // --accumulation_steps: micro-batches per optimizer step
	LearningRate  float64     // --learning_rate: peak lr
	WarmupIters   int         // --warmup_iters: linear warmup steps
	GradClip      float64     // --grad_clip: max global norm (0 = no clipping)
	SaveInterval  int         // --save_interval: optimizer steps between checkpoints (0 = epoch ends only)
	LogInterval   int         // --log_interval: optimizer steps between log lines (for the caller's log)
	Seed          uint64      // --seed: initialisation, shuffling and SFT augmentation
	Shuffle       bool        // --shuffle: a new order every epoch (false keeps file order)
	SkipNonfinite int         // --skip_nonfinite: steps with a NaN/Inf loss or grad norm to skip (no update; the schedule moves on, as AMP's GradScaler) before one stops the run
	AdamW         AdamWConfig // betas, eps, weight decay
	// ThinkWeight is --think_weight: the loss weight of the targets that are
	// tokens of <think>, </think>, <answer> or </answer> (2510's
	// train_reason.py uses 10), the weighted sum divided by the unweighted
	// count of targets. 1 (or 0, an older resume state's) weighs nothing.
	ThinkWeight float64
}

// DefaultOptions are MiniMind-Go's pretraining defaults (SPEC decisions).
func DefaultOptions() Options {
	return Options{
		Epochs:       2,    // the seed's default
		BatchSize:    32,   // the seed's train_pretrain.py
		MaxSeqLen:    512,  // the seed's; MiniMind2 was pretrained at 512
		Accumulation: 1,    // the seed: 1 (the original pretrains with 8)
		LearningRate: 5e-4, // pretrain; SFT uses 5e-7
		WarmupIters:  0,    // then cosine to lr/10, as 2510
		GradClip:     1.0,
		SaveInterval: 500,
		LogInterval:  100,
		Seed:         42,
		Shuffle:      true, // as the seed's DataLoader(shuffle=True)
		// A NaN loss means diverged weights or bad data: stop at the first
		// rather than burn compute (the last checkpoint is the good one).
		SkipNonfinite: 0,
		AdamW:         DefaultAdamW(),
		ThinkWeight:   1,
	}
}

// DefaultSFTOptions are the defaults of supervised fine-tuning: the
// pretraining ones with the seed's train_full_sft.py batch and learning
// rate (a well-trained model needs only small steps).
func DefaultSFTOptions() Options {
	o := DefaultOptions()
	o.BatchSize = 16
	o.LearningRate = 5e-7
	return o
}
