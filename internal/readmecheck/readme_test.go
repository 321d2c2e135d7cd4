package readmecheck

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snippet is one ```go block of the README and the line it starts on.
type snippet struct {
	line int
	code string
}

func readSnippets(t *testing.T) []snippet {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []snippet
	var cur *snippet
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &snippet{line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var unused = regexp.MustCompile(`snippet_(\d+)\.go:(\d+):\d+: declared and not used: (\w+)`)

// TestREADME_snippetsCompile builds every Go snippet of README.md against the SDK. A snippet that
// is not a whole file becomes the body of a function returning error; a variable it declares and
// leaves unused is passed over (a snippet shows a step, not a program).
func TestREADME_snippetsCompile(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	snips := readSnippets(t)
	if len(snips) < 10 {
		t.Fatalf("found %d Go snippets in README.md; expected many more", len(snips))
	}
	dir, err := os.MkdirTemp(".", "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "prelude.go"), []byte(prelude), 0o644); err != nil {
		t.Fatal(err)
	}
	blanks := map[int][]string{} // snippet → names to mark used
	write := func() {
		for i, s := range snips {
			var src string
			if strings.HasPrefix(strings.TrimSpace(s.code), "package ") {
				src = s.code
			} else {
				var b strings.Builder
				b.WriteString(header)
				fmt.Fprintf(&b, "\nfunc snippet%d() error {\n", i)
				b.WriteString(s.code)
				for _, name := range blanks[i] {
					fmt.Fprintf(&b, "\t_ = %s\n", name)
				}
				b.WriteString("\treturn nil\n}\n")
				src = b.String()
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("snippet_%d.go", i)), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := 0; ; round++ {
		write()
		out, err := exec.Command("go", "build", "-o", os.DevNull, "./"+dir).CombinedOutput()
		if err == nil {
			return
		}
		fixed := false
		for _, m := range unused.FindAllStringSubmatch(string(out), -1) {
			var i int
			fmt.Sscan(m[1], &i)
			blanks[i] = append(blanks[i], m[3])
			fixed = true
		}
		if !fixed || round == 30 {
			t.Fatalf("README.md snippets do not compile:\n%s\n(snippet N starts at README line %s)", out, lines(snips))
		}
	}
}

func lines(snips []snippet) string {
	var parts []string
	for i, s := range snips {
		parts = append(parts, fmt.Sprintf("%d: %d", i, s.line))
	}
	return strings.Join(parts, ", ")
}
