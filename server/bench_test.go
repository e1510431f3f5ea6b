package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/server"
)

// BenchmarkThroughput measures the server's total decode throughput with 1
// and 8 concurrent streaming clients on MiniMind2-Small's shape (hidden
// 512, 8 layers, 26M parameters, random weights): each client streams
// 64-token replies over HTTP. Continuous batching should make 8 clients
// several times faster in total than one.
//
//	go test ./server -run '^$' -bench Throughput -benchtime 3x
func BenchmarkThroughput(b *testing.B) {
	tok := generatetest.Tokenizer(b)
	c := model.DefaultConfig()
	c.MaxPositionEmbeddings = 512
	eng, err := generate.NewEngine(model.New(generatetest.Params(b, c, 1), cpu.New(cpu.Options{})), tok,
		generate.EngineOptions{Slots: 8, Window: 256})
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(eng, server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	const newTokens = 64
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			var tokens atomic.Int64
			for b.Loop() {
				var wg sync.WaitGroup
				for i := range clients {
					wg.Go(func() {
						body := fmt.Sprintf(`{"messages":[{"role":"user","content":"client %d: tell me a story"}],"stream":true,
							"stream_options":{"include_usage":true},"max_tokens":%d,"ignore_eos":true,"temperature":0.8}`, i, newTokens)
						res, err := ts.Client().Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						defer res.Body.Close()
						for _, e := range readSSE(b, res.Body) {
							if e.Usage != nil {
								tokens.Add(int64(e.Usage.CompletionTokens))
							}
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(tokens.Load())/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
