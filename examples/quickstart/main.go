package main

import (
	"context"
	"fmt"
	"os"
	"strings"
)

type printer struct {
	failed int
}

func (p *printer) row(platform, step, result string, ok bool) {
	mark := "ok"
	if !ok {
		mark = "FAIL"
		p.failed++
	}
	fmt.Printf("%-8s  %-38s  %-4s  %s\n", platform, step, mark, result)
}

func main() {
	ctx := context.Background()
	p := &printer{}
	fmt.Printf("%-8s  %-38s  %-4s  %s\n%s\n", "PLATFORM", "STEP", "", "WHAT HAPPENED", strings.Repeat("-", 100))
	for _, demo := range demos {
		if err := demo(ctx, p); err != nil {
			p.row("error", "", err.Error(), false)
		}
	}
	if p.failed > 0 {
		fmt.Printf("\n%d step(s) did not behave as promised\n", p.failed)
		os.Exit(1)
	}
	fmt.Println("\nall steps behaved as promised")
}

// demos run in order: the engine alone (engine.go), then the four platforms (platforms.go).
var demos = []func(context.Context, *printer) error{engineDemo, youzanDemo, vvtoolDemo, veapiDemo, vipauthDemo}
