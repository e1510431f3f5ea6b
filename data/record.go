package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minimind-go/minimind/chat"
)

// Kind is the kind of a dataset: which JSONL schema it reads and how its
// loss mask is built.
type Kind uint8

// The dataset kinds of MiniMind 2510 (SPEC §5).
const (
	KindPretrain Kind = iota + 1 // {"text"}
	KindSFT                      // {"conversations"}
	KindDPO                      // {"chosen", "rejected"}
	KindRLAIF                    // {"conversations"}, rendered as a prompt
)

// String returns the name used by --mode.
func (k Kind) String() string {
	switch k {
	case KindPretrain:
		return "pretrain"
	case KindSFT:
		return "sft"
	case KindDPO:
		return "dpo"
	case KindRLAIF:
		return "rlaif"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a --mode value: pretrain, sft, dpo or rlaif.
func ParseKind(s string) (Kind, error) {
	for _, k := range []Kind{KindPretrain, KindSFT, KindDPO, KindRLAIF} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown dataset kind %q (want pretrain, sft, dpo or rlaif)", s)
}

// Record is one parsed JSONL line. Which fields are set depends on the kind.
type Record struct {
	Text          string         // pretrain
	Conversations []chat.Message // SFT, RLAIF
	Tools         []chat.Object  // SFT: conversations[0]["functions"] of a system message
	Chosen        []chat.Message // DPO
	Rejected      []chat.Message // DPO
}

// ParseRecord parses one JSONL line as a record of kind. Any error wraps
// ErrMalformed and says what is wrong.
func ParseRecord(kind Kind, line []byte) (Record, error) {
	var rec Record
	err := parseRecord(kind, line, &rec)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return rec, nil
}

func parseRecord(kind Kind, line []byte, rec *Record) error {
	switch kind {
	case KindPretrain:
		var v struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		if v.Text == nil {
			return errors.New(`no "text" string`)
		}
		rec.Text = *v.Text
	case KindSFT, KindRLAIF:
		var v struct {
			Conversations []json.RawMessage `json:"conversations"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		msgs, err := parseMessages("conversations", v.Conversations)
		if err != nil {
			return err
		}
		if kind == KindRLAIF && len(msgs) < 2 {
			return errors.New(`"conversations" needs a prompt and an answer (2 or more messages)`)
		}
		rec.Conversations = msgs
		if kind == KindSFT && msgs[0].Role == "system" {
			tools, err := parseFunctions(v.Conversations[0])
			if err != nil {
				return err
			}
			rec.Tools = tools
		}
	case KindDPO:
		var v struct {
			Chosen   []json.RawMessage `json:"chosen"`
			Rejected []json.RawMessage `json:"rejected"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		var err error
		if rec.Chosen, err = parseMessages("chosen", v.Chosen); err != nil {
			return err
		}
		if rec.Rejected, err = parseMessages("rejected", v.Rejected); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown dataset kind %v", kind)
	}
	return nil
}

// parseMessages decodes a non-empty list of {"role", "content"} messages.
func parseMessages(field string, raw []json.RawMessage) ([]chat.Message, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("no %q list of messages", field)
	}
	msgs := make([]chat.Message, len(raw))
	for i, r := range raw {
		if len(r) == 0 || r[0] != '{' {
			return nil, fmt.Errorf("%s[%d]: not an object", field, i)
		}
		if err := json.Unmarshal(r, &msgs[i]); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		if msgs[i].Role == "" {
			return nil, fmt.Errorf("%s[%d]: no role", field, i)
		}
	}
	return msgs, nil
}

// parseFunctions reads the optional "functions" of a system message: a list
// of tool schemas, or a JSON string holding one (both occur in MiniMind data).
func parseFunctions(msg json.RawMessage) ([]chat.Object, error) {
	var v struct {
		Functions json.RawMessage `json:"functions"`
	}
	if err := json.Unmarshal(msg, &v); err != nil {
		return nil, err
	}
	f := bytes.TrimSpace(v.Functions)
	if len(f) == 0 || bytes.Equal(f, []byte("null")) {
		return nil, nil
	}
	if f[0] == '"' {
		var s string
		if err := json.Unmarshal(f, &s); err != nil {
			return nil, fmt.Errorf("functions: %w", err)
		}
		f = []byte(s)
	}
	var tools []chat.Object // in key order, as Python's json.loads keeps them
	if err := json.Unmarshal(f, &tools); err != nil {
		return nil, fmt.Errorf("functions: want a list of objects: %w", err)
	}
	if len(tools) == 0 {
		return nil, nil // Python's truthiness: an empty list means no tools
	}
	return tools, nil
}
