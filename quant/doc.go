// Package quant holds block-quantised weight formats shared by the GGUF
// writer and the 8-bit inference path. Today that is Q8_0, GGML's format:
// blocks of 32 values stored as one float16 scale d followed by 32 int8
// quants q, so that value = d·q (34 bytes per 32 weights, 8.5 bits each).
//
// The encoder reproduces ggml's quantize_row_q8_0_ref bit for bit: d is
// max|x|/127 computed in float32, the quants are round-half-away-from-zero
// of x/d (x·(1/d), as ggml), and d is then stored rounded to float16. A file
// we write and a file llama.cpp writes from the same float32 weights are
// therefore identical.
package quant
