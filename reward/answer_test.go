package reward

import (
	"context"
	"strings"
	"testing"
)

func TestAnswerMatches(t *testing.T) {
	for _, c := range []struct {
		response, gt string
		want         bool
	}{
		{"7", "7", true},
		{"3 + 4 = 7", "7", true},                     // last number
		{"7 is not it, the answer is 8", "7", false}, // last number is 8
		{"<think>3+4 is 7? no, 8</think>The answer is 7.", "7", true},
		{"<think>it is 7</think>I think 8", "7", false}, // thinking doesn't count
		{"The answer is 7.0", "7", true},
		{"-12", "-12", true},
		{"12", "-12", false},
		{"The total is 1,234.", "1234", true},
		{"0.5", ".5", true},
		{"no number here", "7", false},
		{"Paris.", "paris", true}, // text: case and trailing period
		{"<think>hmm</think>\n Paris \n", "Paris", true},
		{"It is Paris", "Paris", false},
	} {
		if got := AnswerMatches(c.response, c.gt); got != c.want {
			t.Errorf("AnswerMatches(%q, %q) = %v, want %v", c.response, c.gt, got, c.want)
		}
	}
}

func TestAnswerFunc(t *testing.T) {
	batch := []Sample{{Response: "4", Answer: "4"}, {Response: "5", Answer: "4"}}
	got, err := Answer().Score(context.Background(), batch)
	if err != nil || got[0] != 1 || got[1] != -1 {
		t.Fatalf("got %v, %v; want [1 -1]", got, err)
	}
	_, err = Answer().Score(context.Background(), []Sample{{Response: "4", Answer: "4"}, {Response: "4"}})
	if err == nil || !strings.Contains(err.Error(), "sample 1") || !strings.Contains(err.Error(), "gt") {
		t.Errorf("missing ground truth: error %v, want one naming sample 1 and gt", err)
	}
}

func TestParse(t *testing.T) {
	ctx := context.Background()
	batch := []Sample{{Response: "4", Answer: "4"}, {Response: "5", Answer: "4"}}
	// Rules of "4"/"5": len 1 -> -0.5, no gram.
	for _, c := range []struct {
		spec string
		want []float64
	}{
		{"", []float64{-0.5, -0.5}},
		{"rules", []float64{-0.5, -0.5}},
		{"gt", []float64{0.5, -1.5}},
		{"rules+gt", []float64{0.5, -1.5}},
	} {
		f, err := Parse(c.spec, "", 0)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.spec, err)
		}
		got, err := f.Score(ctx, batch)
		if err != nil || got[0] != c.want[0] || got[1] != c.want[1] {
			t.Errorf("Parse(%q) scores %v, %v; want %v", c.spec, got, err, c.want)
		}
	}
	for _, c := range []struct{ spec, url, wantErr string }{
		{"bleu", "", "unknown term \"bleu\""},
		{"url", "", "needs --reward_url"},
		{"url:http://a:1", "http://b:2", "give one"},
		{"url:notaurl", "", "--reward_url"},
	} {
		if _, err := Parse(c.spec, c.url, 0); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("Parse(%q, %q): error %v, want %q", c.spec, c.url, err, c.wantErr)
		}
	}
}
