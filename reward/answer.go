package reward

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Answer is the verifiable-answer score: +1 when a sample's final answer
// matches its ground truth (Sample.Answer), -1 when not. The final answer is
// the text after the first "</think>" when there is one, else the whole
// response. A ground truth that reads as a number matches when the last
// number in the final answer equals it (commas as thousands separators
// allowed); any other ground truth matches when the trimmed final answer
// equals it, ignoring case and a trailing period. A sample with no ground
// truth is an error: the data file lacks "gt" for it.
func Answer() Func { return answer{} }

type answer struct{}

func (answer) Score(_ context.Context, batch []Sample) ([]float64, error) {
	out := make([]float64, len(batch))
	for i, s := range batch {
		if strings.TrimSpace(s.Answer) == "" {
			return nil, fmt.Errorf("reward gt: sample %d has no ground truth (\"gt\" in its data line)", i)
		}
		if AnswerMatches(s.Response, s.Answer) {
			out[i] = 1
		} else {
			out[i] = -1
		}
	}
	return out, nil
}

// FinalAnswer is the part of a response that is its answer: the text after
// the first "</think>" when present, else all of it, trimmed.
func FinalAnswer(response string) string {
	if _, rest, ok := strings.Cut(response, thinkEnd); ok {
		response = rest
	}
	return pyStrip(response)
}

var numberRE = regexp.MustCompile(`[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+`)

// parseNumber reads one number as numberRE matches it.
func parseNumber(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return v, err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
}

// AnswerMatches reports whether response's final answer matches the ground
// truth gt (see Answer).
func AnswerMatches(response, gt string) bool {
	final := FinalAnswer(response)
	gt = strings.TrimSpace(gt)
	if loc := numberRE.FindStringIndex(gt); loc != nil && loc[0] == 0 && loc[1] == len(gt) {
		want, ok := parseNumber(gt)
		if !ok {
			return false
		}
		all := numberRE.FindAllString(final, -1)
		if len(all) == 0 {
			return false
		}
		got, ok := parseNumber(all[len(all)-1])
		return ok && math.Abs(got-want) <= 1e-9*max(1, math.Abs(want))
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), ".")) }
	return norm(final) == norm(gt)
}
