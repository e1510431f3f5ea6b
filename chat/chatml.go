package chat

import (
	"fmt"
	"strings"
)

// defaultSystem is the system prompt MiniMind's templates insert when the
// conversation has none.
const defaultSystem = "You are a helpful assistant"

// renderChatML renders msgs with the MiniMind 2510 template's behaviour,
// step for step (see ../shared/minimind/SPEC.md §4.1), without a Jinja
// engine.
func renderChatML(msgs []Message, opt Options) (string, error) {
	var sb strings.Builder
	firstSystem := len(msgs) > 0 && msgs[0].Role == "system"
	if len(opt.Tools) > 0 {
		sb.WriteString("<|im_start|>system\n")
		if firstSystem {
			sb.WriteString(msgs[0].Content + "\n\n")
		}
		sb.WriteString("# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>")
		for _, tool := range opt.Tools {
			sb.WriteString("\n")
			if err := pyJSON(&sb, tool, "", 0); err != nil {
				return "", fmt.Errorf("%w: %v", ErrTemplate, err)
			}
		}
		sb.WriteString("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n")
	} else if firstSystem {
		sb.WriteString("<|im_start|>system\n" + msgs[0].Content + "<|im_end|>\n")
	} else {
		sb.WriteString("<|im_start|>system\n" + defaultSystem + "<|im_end|>\n")
	}
	for i, m := range msgs {
		switch {
		case m.Role == "user" || (m.Role == "system" && i > 0):
			sb.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		case m.Role == "assistant":
			sb.WriteString("<|im_start|>assistant\n" + m.Content)
			for j, call := range m.ToolCalls {
				if j > 0 || m.Content != "" {
					sb.WriteString("\n")
				}
				sb.WriteString("<tool_call>\n{\"name\": \"" + call.Function.Name + "\", \"arguments\": ")
				if s, ok := call.Function.Arguments.(string); ok {
					sb.WriteString(s)
				} else if err := pyJSON(&sb, call.Function.Arguments, "", 0); err != nil {
					return "", fmt.Errorf("%w: %v", ErrTemplate, err)
				}
				sb.WriteString("}\n</tool_call>")
			}
			sb.WriteString("<|im_end|>\n")
		case m.Role == "tool":
			if i == 0 || msgs[i-1].Role != "tool" {
				sb.WriteString("<|im_start|>user")
			}
			sb.WriteString("\n<tool_response>\n" + m.Content + "\n</tool_response>")
			if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
				sb.WriteString("<|im_end|>\n")
			}
		}
	}
	if opt.AddGenerationPrompt {
		sb.WriteString("<|im_start|>assistant\n")
		if opt.EnableThinking != nil && !*opt.EnableThinking {
			sb.WriteString("<think>\n\n</think>\n\n")
		}
	}
	return sb.String(), nil
}
