package tensorboard

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// protobufPython returns a python3 that imports google.protobuf (Debian's
// python3-protobuf), preferring the system one: a pyenv python3 on PATH
// usually lacks it.
func protobufPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		tried = append(tried, path)
		if exec.Command(path, "-c", "import google.protobuf").Run() == nil {
			return path
		}
	}
	t.Skipf("no python3 with google.protobuf (tried %v): install Debian's python3-protobuf", tried)
	return ""
}

// TestPythonProtobufReadsOurFiles decodes our files with an independent
// reader: testdata/read_events.py parses the TFRecord framing itself,
// checks every CRC, decodes every record with classes protoc generates from
// testdata/proto (TensorBoard's field numbers and package) and requires
// each to re-serialize to the same bytes. What it decodes must be what Go
// wrote.
func TestPythonProtobufReadsOurFiles(t *testing.T) {
	python := protobufPython(t)
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("no protoc: install Debian's protobuf-compiler")
	}
	gen := t.TempDir()
	protos, err := filepath.Glob(filepath.Join("testdata", "proto", "tensorboard", "compat", "proto", "*.proto"))
	if err != nil || len(protos) == 0 {
		t.Fatalf("no .proto files in testdata/proto: %v", err)
	}
	cmd := exec.Command(protoc, append([]string{"-I", filepath.Join("testdata", "proto"), "--python_out=" + gen}, protos...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	// Regular packages, so an installed tensorboard cannot shadow ours.
	for _, d := range []string{"tensorboard", "tensorboard/compat", "tensorboard/compat/proto"} {
		if err := os.WriteFile(filepath.Join(gen, d, "__init__.py"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	first, want := writeRun(t, dir)
	// A resumed run: its own file, a restart mark, one more step.
	w, err := open(dir, t0.Add(time.Hour), "host-a", 4243)
	if err != nil {
		t.Fatal(err)
	}
	w.AddSessionStart(3, t0.Add(time.Hour))
	w.AddStep(steps[2], t0.Add(time.Hour))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	resumed, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	cmd = exec.Command(python, filepath.Join("testdata", "read_events.py"), gen, first, w.Path())
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_events.py: %v\n%s", err, stderr.Bytes())
	}
	var got struct {
		Files []struct {
			Path   string
			Events []pyEvent
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("read_events.py output: %v\n%s", err, out)
	}
	if len(got.Files) != 2 {
		t.Fatalf("read_events.py read %d files, want 2", len(got.Files))
	}
	for i, events := range [][]Event{want, resumed.Events} {
		name, want, got := filepath.Base(got.Files[i].Path), pyEvents(events), got.Files[i].Events
		if len(got) != len(want) {
			t.Errorf("%s: Python read %d events, want %d", name, len(got), len(want))
			continue
		}
		for j := range want {
			if d := diff(want[j], got[j]); d != "" {
				t.Errorf("%s event %d: %s", name, j, d)
			}
		}
	}
}

// pyEvent is an event as read_events.py prints it.
type pyEvent struct {
	WallTime      float64   `json:"wall_time"`
	Step          int64     `json:"step"`
	What          string    `json:"what"`
	FileVersion   string    `json:"file_version"`
	SessionStatus int       `json:"session_status"`
	Values        []pyValue `json:"values"`
}

type pyValue struct {
	Tag         string   `json:"tag"`
	Kind        string   `json:"kind"`
	SimpleValue float64  `json:"simple_value"`
	DType       string   `json:"dtype"`
	Rank        int      `json:"rank"`
	HasShape    bool     `json:"has_shape"`
	Strings     []string `json:"strings"`
	PluginName  string   `json:"plugin_name"`
}

// pyEvents is what read_events.py must print for events.
func pyEvents(events []Event) []pyEvent {
	var out []pyEvent
	for _, e := range events {
		p := pyEvent{WallTime: e.WallTime, Step: e.Step}
		switch {
		case e.FileVersion != "":
			p.What, p.FileVersion = "file_version", e.FileVersion
		case e.SessionStart:
			p.What, p.SessionStatus = "session_log", 1 // START
		default:
			p.What = "summary"
			for _, v := range e.Values {
				pv := pyValue{Tag: v.Tag, PluginName: v.Plugin}
				switch v.Kind {
				case KindScalar:
					pv.Kind, pv.SimpleValue = "simple_value", float64(v.Scalar)
				case KindText:
					pv.Kind, pv.DType, pv.HasShape, pv.Strings = "tensor", "DT_STRING", true, []string{v.Text}
				}
				p.Values = append(p.Values, pv)
			}
		}
		out = append(out, p)
	}
	return out
}
