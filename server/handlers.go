package server

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/minimind-go/minimind/generate"
)

// reply identifies one response and how its chunks are built.
type reply struct {
	id      string
	created int64
	model   string
	object  string // chunk object: chat.completion.chunk or text_completion
	usage   bool   // stream_options.include_usage
	// text returns the chunks for a piece of reply text (perhaps none,
	// while a tag is incomplete), end the last chunks, the finish
	// reason's included.
	text func(text string) []any
	end  func(finish generate.FinishReason) []any
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := decodeBody(w, r, &req, s.opts.MaxBodyBytes); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkModel(req.Model); e != nil {
		writeError(w, e)
		return
	}
	msgs, topt, parseCalls, e := req.chatMessages()
	if e != nil {
		writeError(w, e)
		return
	}
	opts, e := req.options(rand.Uint64())
	if e != nil {
		writeError(w, e)
		return
	}
	release, e := s.admit()
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	topt.AddGenerationPrompt = true
	text, err := s.tmpl.Render(msgs, topt)
	if err != nil {
		writeError(w, badRequest("messages", "rendering the chat template: %v", err))
		return
	}
	prompt, e := s.tokenize(nil, text, "messages")
	if e != nil {
		writeError(w, e)
		return
	}
	ch, err := s.opts.Submit(r.Context(), generate.Request{Prompt: prompt, Options: opts})
	if err != nil {
		writeError(w, engineError(err))
		return
	}
	split := generate.NewReplySplitter(text, parseCalls)
	rp := s.newReply("chatcmpl-", "chat.completion.chunk", req.StreamOptions)
	calls := 0
	deltas := func(parts []generate.Part) []any {
		out := make([]any, 0, len(parts))
		for _, p := range parts {
			var d chatMessage
			switch p.Kind {
			case generate.PartContent:
				d.Content = &p.Text
			case generate.PartReasoning:
				d.ReasoningContent = &p.Text
			case generate.PartToolCall:
				c, i := wireCall(p.Call), calls
				c.Index = &i
				d.ToolCalls = []toolCall{c}
				calls++
			}
			out = append(out, chatChunk(rp.id, rp.created, rp.model, d, ""))
		}
		return out
	}
	rp.text = func(text string) []any { return deltas(split.Push(text)) }
	rp.end = func(f generate.FinishReason) []any {
		out := deltas(split.Flush())
		return append(out, chatChunk(rp.id, rp.created, rp.model, chatMessage{}, finishReason(f, calls > 0)))
	}
	rc := http.NewResponseController(w)
	if req.Stream {
		sse := startSSE(w, func() { s.extendWrite(rc) })
		empty := ""
		if sse.send(chatChunk(rp.id, rp.created, rp.model, chatMessage{Role: "assistant", Content: &empty}, "")) != nil {
			return
		}
		s.stream(r, sse, ch, rp)
		return
	}
	reply, last, ok := s.collect(r, ch)
	if !ok {
		return
	}
	s.extendWrite(rc)
	if e := eventError(last); e != nil {
		writeError(w, e)
		return
	}
	parts := append(split.Push(reply), split.Flush()...)
	writeJSON(w, http.StatusOK, chatResponse(rp.id, rp.created, rp.model, parts, last))
}

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := decodeBody(w, r, &req, s.opts.MaxBodyBytes); e != nil {
		writeError(w, e)
		return
	}
	if e := s.checkModel(req.Model); e != nil {
		writeError(w, e)
		return
	}
	text, e := req.completionPrompt()
	if e != nil {
		writeError(w, e)
		return
	}
	opts, e := req.options(rand.Uint64())
	if e != nil {
		writeError(w, e)
		return
	}
	release, e := s.admit()
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	// MiniMind's prompt for pretrained weights: bos, then the text.
	prompt, e := s.tokenize([]int32{s.bos}, text, "prompt")
	if e != nil {
		writeError(w, e)
		return
	}
	ch, err := s.opts.Submit(r.Context(), generate.Request{Prompt: prompt, Options: opts})
	if err != nil {
		writeError(w, engineError(err))
		return
	}
	rp := s.newReply("cmpl-", "text_completion", req.StreamOptions)
	rp.text = func(text string) []any { return []any{completionResponse(rp.id, rp.created, rp.model, text, "", nil)} }
	rp.end = func(f generate.FinishReason) []any {
		return []any{completionResponse(rp.id, rp.created, rp.model, "", string(f), nil)}
	}
	rc := http.NewResponseController(w)
	if req.Stream {
		s.stream(r, startSSE(w, func() { s.extendWrite(rc) }), ch, rp)
		return
	}
	out, last, ok := s.collect(r, ch)
	if !ok {
		return
	}
	s.extendWrite(rc)
	if e := eventError(last); e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, completionResponse(rp.id, rp.created, rp.model, out, string(last.Finish), usageOf(last)))
}

// checkModel accepts the served model's id, and no model at all (the
// alias the chat page and bare curl calls rely on).
func (s *Server) checkModel(name string) *apiError {
	if name == "" || name == s.opts.ModelName {
		return nil
	}
	return withCode(&apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Param: strPtr("model"),
		Message: fmt.Sprintf("the model %q does not exist; this server serves %q", name, s.opts.ModelName)}, "model_not_found")
}

// admit takes a permit for a request about to be tokenized and generated,
// or answers 429 when the engine's slots and queue are all spoken for.
// The caller must call release when its reply has ended.
func (s *Server) admit() (release func(), e *apiError) {
	select {
	case s.permits <- struct{}{}:
		return func() { <-s.permits }, nil
	default:
		return nil, engineError(generate.ErrQueueFull)
	}
}

// tokenize appends text's ids to prefix, first refusing, without encoding
// it, a text too long for the context window by its byte length alone.
func (s *Server) tokenize(prefix []int32, text, param string) ([]int32, *apiError) {
	if n := len(prefix) + s.tok.MinTokens(len(text)); n >= s.eng.Window() {
		return nil, withCode(badRequest(param, "the prompt has at least %d tokens and the context window %d positions, leaving no room for a reply", n, s.eng.Window()),
			"context_length_exceeded")
	}
	return s.tok.AppendEncode(prefix, text), nil
}

// extendWrite gives a generation handler's next write its own deadline,
// WriteTimeout from now: the server's deadline, set when the request was
// read, has passed by then for a long reply. Only the client's going away
// ends a generation (net/http lifts the read deadline once the body is
// read, and cancels the request's context when the connection closes). An
// error means the writer has no deadlines (a test recorder): nothing to do.
func (s *Server) extendWrite(rc *http.ResponseController) {
	rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, models(s.opts.ModelName, s.created))
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	st := s.eng.Stats()
	status := "ok"
	select {
	case <-s.eng.Done():
		status = "stopped"
	default:
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": status, "model": s.opts.ModelName,
		"slots": st.Slots, "active": st.Active, "queued": st.Queued, "generated_tokens": st.Generated,
		"decode_steps": st.DecodeSteps, "decode_rows": st.DecodeRows, "batch_rows": st.BatchRows,
		"prefill_passes": st.PrefillPasses, "prefill_rows": st.PrefillRows})
}

func (s *Server) handleUnknown(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error",
		Message: "no route " + r.Method + " " + r.URL.Path})
}

func (s *Server) newReply(prefix, object string, so *streamOptions) *reply {
	return &reply{id: newID(prefix), created: time.Now().Unix(), model: s.opts.ModelName, object: object, usage: so != nil && so.IncludeUsage}
}

// next waits for the reply's next event. ok is false when the client has
// gone (its context is done; the engine drops the sequence on its own).
func (s *Server) next(r *http.Request, ch <-chan generate.Event) (ev generate.Event, ok bool) {
	select {
	case ev, open := <-ch:
		if !open {
			// A reply channel closed without its final event (a broken
			// engine or test double) must end the reply, not spin.
			return generate.Event{Done: true, Finish: generate.FinishCancelled, Err: generate.ErrClosed}, true
		}
		return ev, true
	case <-r.Context().Done():
		return ev, false
	case <-s.eng.Done():
		// The engine ends every reply before it stops; take that event if
		// it is there.
		select {
		case ev = <-ch:
			return ev, true
		default:
			return generate.Event{Done: true, Finish: generate.FinishCancelled, Err: generate.ErrClosed}, true
		}
	}
}

// collect gathers a whole reply.
func (s *Server) collect(r *http.Request, ch <-chan generate.Event) (string, generate.Event, bool) {
	var sb strings.Builder
	for {
		ev, ok := s.next(r, ch)
		if !ok {
			return "", ev, false
		}
		sb.WriteString(ev.Text)
		if ev.Done {
			rec := record(r)
			rec.promptTokens, rec.completionTokens = ev.PromptTokens, ev.CompletionTokens
			return sb.String(), ev, true
		}
	}
}

// stream relays a reply as server-sent events: text chunks, the finish
// chunk, the usage chunk if asked for, then [DONE]. A reply that fails
// midway ends with an error event.
func (s *Server) stream(r *http.Request, out *sse, ch <-chan generate.Event, rp *reply) {
	for {
		ev, ok := s.next(r, ch)
		if !ok {
			return
		}
		if ev.Text != "" {
			for _, c := range rp.text(ev.Text) {
				if out.send(c) != nil {
					return
				}
			}
		}
		if !ev.Done {
			continue
		}
		rec := record(r)
		rec.promptTokens, rec.completionTokens = ev.PromptTokens, ev.CompletionTokens
		if e := eventError(ev); e != nil {
			out.send(errorBody{Error: e})
		} else {
			for _, c := range rp.end(ev.Finish) {
				out.send(c)
			}
			if rp.usage {
				out.send(usageChunk(rp.id, rp.created, rp.model, rp.object, ev))
			}
		}
		out.done()
		return
	}
}
