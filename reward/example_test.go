package reward_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/reward"
)

// politeness is a user's own reward: any type with a Score method is a
// reward.Func.
type politeness struct{}

func (politeness) Score(_ context.Context, batch []reward.Sample) ([]float64, error) {
	out := make([]float64, len(batch))
	for i, s := range batch {
		if strings.Contains(strings.ToLower(s.Response), "please") {
			out[i] = 1
		}
	}
	return out, nil
}

// A custom reward stands where upstream has its reward model: WithRules adds
// upstream's rule terms to its score, clipped to ±3.
func Example() {
	f := reward.WithRules(politeness{})
	scores, err := f.Score(context.Background(), []reward.Sample{
		{Response: "Could you please pass the salt, my friend?"},
		{Response: "Pass the salt."},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(scores)
	// Output: [1.5 -0.5]
}
