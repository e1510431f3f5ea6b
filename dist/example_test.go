package dist_test

import (
	"context"
	"fmt"

	"github.com/minimind-go/minimind/dist"
)

// The data-parallel step: every rank computes gradients on its own batch,
// then averages them before the optimizer step. Real code gets comm from
// dist.Init(ctx, dist.Options{Backend: dist.BackendMPI}) under --ddp and
// from dist.Single() otherwise; the loop is the same.
func Example() {
	ctx := context.Background()
	comm := dist.Single()
	defer comm.Close()

	// Rank 0 decides the run's config; the others receive it.
	cfg, err := comm.BroadcastBytes(ctx, []byte(`{"hidden_size":512}`), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	grads := []float32{0.5, -1, 2} // this rank's gradient slab
	if err := comm.AllReduceMean(ctx, grads); err != nil {
		fmt.Println(err) // ErrTimeout if a peer died: report, then Close aborts the job
		return
	}
	fmt.Printf("rank %d of %d, config %s, grads %v\n", comm.Rank(), comm.Size(), cfg, grads)
	// Output: rank 0 of 1, config {"hidden_size":512}, grads [0.5 -1 2]
}
