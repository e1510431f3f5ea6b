package generate

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// allowed computes, independently of Sampler, the tokens top-k/top-p keep
// and their renormalised probabilities at temperature temp.
func allowed(logits []float32, temp float64, k int, p float64) map[int32]float64 {
	type tp struct {
		id int32
		l  float64
	}
	var all []tp
	for i, l := range logits {
		all = append(all, tp{int32(i), float64(l) / temp})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].l > all[j].l })
	if k > 0 && k < len(all) {
		all = all[:k]
	}
	var z float64
	for _, a := range all {
		z += math.Exp(a.l - all[0].l)
	}
	keep := map[int32]float64{}
	var cum float64
	for _, a := range all {
		if p > 0 && p < 1 && cum >= p {
			break
		}
		q := math.Exp(a.l-all[0].l) / z
		keep[a.id] = q
		cum += q
	}
	var s float64
	for _, q := range keep {
		s += q
	}
	for id := range keep {
		keep[id] /= s
	}
	return keep
}

func TestSamplerNeverPicksExcludedTokens(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 200)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 2)
	}
	cases := []struct {
		name string
		temp float64
		topK int
		topP float64
	}{
		{"top-k 5", 1, 5, 1},
		{"top-k 1", 1, 1, 1},
		{"top-p 0.5", 1, 0, 0.5},
		{"top-p 0.9 hot", 2, 0, 0.9},
		{"top-k 20 top-p 0.7", 0.7, 20, 0.7},
		{"top-p tiny keeps one", 1, 0, 1e-9},
		{"no filter", 1, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := allowed(logits, c.temp, c.topK, c.topP)
			s := NewSampler(Options{Temperature: c.temp, TopK: c.topK, TopP: c.topP, Seed: 7})
			const n = 20000
			counts := map[int32]int{}
			row := make([]float32, len(logits))
			for range n {
				copy(row, logits)
				id := s.Sample(row, nil)
				if _, ok := want[id]; !ok {
					t.Fatalf("picked token %d, outside the %d allowed", id, len(want))
				}
				counts[id]++
			}
			for id, p := range want {
				f := float64(counts[id]) / n
				if tol := 5*math.Sqrt(p*(1-p)/n) + 1e-3; math.Abs(f-p) > tol {
					t.Errorf("token %d: frequency %.4f, want %.4f ± %.4f", id, f, p, tol)
				}
			}
		})
	}
}

func TestSamplerSeed(t *testing.T) {
	t.Parallel()
	logits := make([]float32, 50)
	for i := range logits {
		logits[i] = float32(i%7) * 0.3
	}
	draw := func(seed uint64) []int32 {
		s := NewSampler(Options{Temperature: 1, TopP: 0.95, TopK: 30, Seed: seed})
		var out []int32
		row := make([]float32, len(logits))
		for range 64 {
			copy(row, logits)
			out = append(out, s.Sample(row, nil))
		}
		return out
	}
	a, b, c := draw(42), draw(42), draw(43)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different draws:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("seeds 42 and 43 drew the same 64 tokens")
	}
}

func TestSamplerGreedyAndPenalty(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		logits  []float32
		penalty float64
		seen    []int32
		want    int32
	}{
		{"argmax", []float32{0.1, 3, 2.9, -1}, 1, nil, 1},
		{"first of equals", []float32{1, 5, 5}, 1, nil, 1},
		{"positive logit divided", []float32{0.1, 3, 2, -1}, 2, []int32{1}, 2},   // 3/2 = 1.5 < 2
		{"negative logit multiplied", []float32{-1, -1.5, -3}, 2, []int32{0}, 1}, // -1*2 = -2 < -1.5
		{"penalty 1 is off", []float32{0, 2, 1}, 1, []int32{1}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewSampler(Options{Temperature: 0, RepetitionPenalty: c.penalty})
			if got := s.Sample(slices.Clone(c.logits), c.seen); got != c.want {
				t.Errorf("Sample = %d, want %d", got, c.want)
			}
		})
	}
}

// TestSamplerFrequencyPresencePenalty checks the exact logits after the
// penalties: logits[t] -= frequency·count[t] + presence·(count[t] > 0),
// count over the tokens picked so far, after the repetition penalty.
func TestSamplerFrequencyPresencePenalty(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		rep, freq, presence float64
		seen, picked        []int32
		logits, want        []float32
	}{
		{"off", 1, 0, 0, nil, []int32{1, 1}, []float32{1, 1, 1, 1}, []float32{1, 1, 1, 1}},
		{"frequency counts each pick", 1, 0.5, 0, nil, []int32{1, 1, 1, 2}, []float32{1, 1, 1, 1}, []float32{1, -0.5, 0.5, 1}},
		{"presence once per token", 1, 0, 0.25, nil, []int32{1, 1, 2}, []float32{1, 1, 1, 1}, []float32{1, 0.75, 0.75, 1}},
		{"both", 1, 0.5, 0.25, nil, []int32{0, 0, 3}, []float32{1, 1, 1, 1}, []float32{-0.25, 1, 1, 0.25}},
		{"negative favours repeats", 1, -1, -0.5, nil, []int32{2}, []float32{1, 1, 1, 1}, []float32{1, 1, 2.5, 1}},
		{"after the repetition penalty", 2, 0.5, 0, []int32{0, 1, 2}, []int32{1}, []float32{2, 2, -1, 1}, []float32{1, 0.5, -2, 1}},
		{"prompt tokens do not count", 1, 1, 1, []int32{0, 1}, nil, []float32{1, 1, 1, 1}, []float32{1, 1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewSampler(Options{RepetitionPenalty: c.rep, FrequencyPenalty: c.freq, PresencePenalty: c.presence})
			for _, id := range c.picked {
				if s.picked != nil {
					s.picked[id]++
				}
			}
			got := slices.Clone(c.logits)
			s.penalize(got, c.seen)
			if !slices.Equal(got, c.want) {
				t.Errorf("logits %v, want %v", got, c.want)
			}
		})
	}
}

// TestSamplerPenaltyPicks: greedy decoding of the same logits row, step
// after step, moves off a token once the penalties on its own picks
// outweigh its lead.
func TestSamplerPenaltyPicks(t *testing.T) {
	t.Parallel()
	logits := []float32{0, 3, 2.5, 1}
	cases := []struct {
		name           string
		freq, presence float64
		want           []int32
	}{
		{"no penalty", 0, 0, []int32{1, 1, 1, 1, 1}},
		// 1: 3 → 2 after one pick, below 2.5; 2: 2.5 → 1.5, below 2; ...
		{"frequency 1", 1, 0, []int32{1, 2, 1, 2, 1}},
		// Presence alone: each token pays once, then its order is back.
		{"presence 1", 0, 1, []int32{1, 2, 1, 1, 1}},
		{"presence 3", 0, 3, []int32{1, 2, 3, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := NewSampler(Options{FrequencyPenalty: c.freq, PresencePenalty: c.presence})
			var got []int32
			for range c.want {
				got = append(got, s.Sample(slices.Clone(logits), nil))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("picks %v, want %v", got, c.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opt  Options
		ok   bool
	}{
		{"defaults", DefaultOptions(), true},
		{"zero", Options{}, true},
		{"negative temperature", Options{Temperature: -1}, false},
		{"NaN temperature", Options{Temperature: math.NaN()}, false},
		{"top_p above 1", Options{TopP: 1.5}, false},
		{"negative top_k", Options{TopK: -1}, false},
		{"negative max", Options{MaxNewTokens: -5}, false},
		{"empty stop", Options{Stop: []string{""}}, false},
		{"infinite penalty", Options{RepetitionPenalty: math.Inf(1)}, false},
		{"negative frequency penalty", Options{FrequencyPenalty: -2}, true},
		{"NaN frequency penalty", Options{FrequencyPenalty: math.NaN()}, false},
		{"infinite presence penalty", Options{PresencePenalty: math.Inf(-1)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if err := c.opt.Validate(); (err == nil) != c.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestStopper(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		stops  []string
		pieces []string
		want   string
		hit    bool
	}{
		{"no stops", nil, []string{"ab", "cd"}, "abcd", false},
		{"stop inside a piece", []string{"XY"}, []string{"abXYcd"}, "ab", true},
		{"stop across pieces", []string{"XYZ"}, []string{"abX", "Y", "Zq"}, "ab", true},
		{"false start released", []string{"XYZ"}, []string{"abX", "Yq"}, "abXYq", false},
		{"earliest of two", []string{"cd", "b"}, []string{"abcd"}, "a", true},
		{"multibyte stop", []string{"世界"}, []string{"你好", "世", "界!"}, "你好", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := stopper{stops: c.stops}
			var got string
			hit := false
			for _, p := range c.pieces {
				out, h := s.push(p)
				got += out
				if h {
					hit = true
					break
				}
			}
			if !hit {
				got += s.flush()
			}
			if got != c.want || hit != c.hit {
				t.Errorf("got %q hit=%v, want %q hit=%v", got, hit, c.want, c.hit)
			}
		})
	}
}
