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
	// Tools are the SFT tool schemas: minimind-3's "tools" of a system
	// message (the last one that has them), else 2510's
	// conversations[0]["functions"]. Non-nil but empty marks a tool-use
	// conversation without schemas (a "tools" field that is not on a system
	// message, or "[]"): minimind-3 still leaves those unaugmented.
	Tools    []chat.Object
	Chosen   []chat.Message // DPO
	Rejected []chat.Message // DPO
	// GT is an RLAIF line's verifiable answer ("gt": a string, or a number
	// or other JSON literal kept as written), for the RL rewards; "" when
	// the line has none.
	GT string
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
		if kind == KindRLAIF {
			gt, err := parseGT(line)
			if err != nil {
				return err
			}
			rec.GT = gt
		}
		if kind == KindSFT {
			tools, err := parseTools(v.Conversations, msgs)
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

// parseTools finds an SFT conversation's tool schemas as upstream does.
// minimind-3 (dataset/lm_dataset.py): a system message's truthy "tools"
// (a list, or a JSON string holding one) gives the tools, the last such
// message winning, and any message's truthy "tools" makes the conversation
// a tool-use one. 2510: a first system message's "functions".
func parseTools(raw []json.RawMessage, msgs []chat.Message) ([]chat.Object, error) {
	var tools []chat.Object
	toolUse := false
	for i, r := range raw {
		var v struct {
			Tools json.RawMessage `json:"tools"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("conversations[%d]: %w", i, err)
		}
		if !truthy(v.Tools) {
			continue
		}
		toolUse = true
		if msgs[i].Role != "system" {
			continue
		}
		t, err := chat.ParseTools(v.Tools)
		if err != nil {
			return nil, fmt.Errorf("conversations[%d].tools: %w", i, err)
		}
		tools = t
	}
	if tools == nil && msgs[0].Role == "system" {
		var v struct {
			Functions json.RawMessage `json:"functions"`
		}
		if err := json.Unmarshal(raw[0], &v); err != nil {
			return nil, err
		}
		if truthy(v.Functions) {
			t, err := chat.ParseTools(v.Functions)
			if err != nil {
				return nil, fmt.Errorf("conversations[0].functions: %w", err)
			}
			if len(t) > 0 {
				tools = t
			}
		}
	}
	if toolUse && tools == nil {
		tools = []chat.Object{}
	}
	return tools, nil
}

// truthy is Python's truth value of a JSON value: absent, null, false, 0,
// "", [] and {} are false.
func truthy(raw json.RawMessage) bool {
	r := bytes.TrimSpace(raw)
	switch string(r) {
	case "", "null", "false", "0", `""`, "[]", "{}":
		return false
	}
	if r[0] == '[' || r[0] == '{' {
		var v []any
		if r[0] == '[' && json.Unmarshal(r, &v) == nil {
			return len(v) > 0
		}
		var o map[string]any
		if r[0] == '{' && json.Unmarshal(r, &o) == nil {
			return len(o) > 0
		}
	}
	return true
}

// parseGT reads an RLAIF line's optional "gt": a JSON string is taken as
// its text, a number (or true/false) as written; objects and lists are not
// answers.
func parseGT(line []byte) (string, error) {
	var v struct {
		GT json.RawMessage `json:"gt"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return "", err
	}
	raw := bytes.TrimSpace(v.GT)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case raw[0] == '{' || raw[0] == '[':
		return "", errors.New(`"gt" must be a string or a number`)
	}
	return string(raw), nil
}
