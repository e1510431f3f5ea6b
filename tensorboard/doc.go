// Package tensorboard writes and reads TensorBoard event files, in pure Go,
// so that a training run can be opened with `tensorboard --logdir` and
// uploaded later with `wandb sync --sync-tensorboard` or
// `swanlab convert -t tensorboard`.
//
// Main types and functions:
//   - Writer (Open) appends Event records to one new file named
//     events.out.tfevents.{unix seconds}.{host}.{pid}.{n} in a run
//     directory: the scalars of a train.Step (AddStep), any other scalar
//     (AddScalars, AddEvalLoss), markdown text for TensorBoard's text
//     plugin (AddText, FlagsMarkdown) and the restart marker of a resumed
//     run (AddSessionStart).
//   - DefaultDir, LatestDir and RunDir name the run directory
//     {out_dir}/runs/{stage}-{yyyymmdd-hhmmss}; a resumed run appends a new
//     file to the latest directory of its stage.
//   - ReadFile and Parse read an event file back, checking both CRCs of
//     every record.
//   - WandbNotes returns the lines `--use_wandb` prints.
//
// Format: each record is TFRecord framing (uint64 length, little endian; the
// masked CRC-32C of those 8 bytes; the data; the masked CRC-32C of the data)
// around a protobuf Event of tensorboard/compat/proto/event.proto, encoded
// by hand here with the official field numbers. The first record of a file
// holds file_version "brain.Event:2". testdata/proto holds a wire-compatible
// subset of the official .proto files, used by the test that decodes our
// files with Python's protobuf runtime.
//
// Durability: Add* only encode into a buffer; Flush appends the buffer to
// the file with one write and fsyncs it, and Close flushes. Records are only
// ever appended, so a kill leaves at worst a torn last record, which Parse
// reports (File.Torn) instead of failing; a resumed run never reopens an old
// file. The directory and the file are created by Open, so an unwritable
// directory is an error before training starts.
//
// Errors: Open, Flush and Close return errors wrapped with the file's path;
// the first failed write is sticky (later calls return it, and nothing more
// is appended after a partial write). Parse returns an error for a corrupt
// record (a CRC mismatch, a malformed Event), never panics, and allocates in
// proportion to its input, whatever a record's length field claims.
//
// Threads: a Writer's methods may be called from several goroutines.
package tensorboard
