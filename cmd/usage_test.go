package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/config"
)

// TestEveryMistakeIsAUsageError walks the whole command tree: a mistyped subcommand of
// any group, and an extra argument to any command that takes a fixed number of them,
// exit 2 with a message saying what was wrong — never the group's help and exit 0.
func TestEveryMistakeIsAUsageError(t *testing.T) {
	ios, _, _, _ := cli.Test()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(NewRootCmd(&Factory{IO: ios, Env: func(string) (string, bool) { return "", false }}), nil)
	checked := 0
	for _, path := range paths {
		root := NewRootCmd(&Factory{IO: ios, Env: func(string) (string, bool) { return "", false }})
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		var args []string
		var want string
		switch {
		case c.HasSubCommands():
			args, want = append(append([]string(nil), path...), "bogus-subcommand"), `unknown command "bogus-subcommand"`
		case c.Args != nil:
			args, want = append(append([]string(nil), path...), "extra-1", "extra-2", "extra-3"), "Run '"
		default:
			continue // takes any number of IDs
		}
		root.SetArgs(append(args, "--no-input", "--config", "/dev/null"))
		err = root.Execute()
		if code := cli.ExitCode(err); code != cli.ExitUsage || !strings.Contains(err.Error(), want) {
			t.Errorf("tabhook %s: exit %d, %v", strings.Join(args, " "), code, err)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d commands checked: the walk missed the tree", checked)
	}
}

// TestGroupWithoutArgsShowsHelp: `tabhook webhook` alone still shows the group's help.
func TestGroupWithoutArgsShowsHelp(t *testing.T) {
	ios, _, out, _ := cli.Test()
	root := NewRootCmd(&Factory{IO: ios, Env: func(string) (string, bool) { return "", false }})
	root.SetOut(out)
	root.SetArgs([]string{"webhook"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands") {
		t.Fatalf("err %v, output %q", err, out.String())
	}
}

// TestSimulatorExampleWorks: the example in `demo simulator --help` runs the simulator
// in the background and sets the environment it prints; the old one (eval of a
// command substitution around a background job) waited forever.
func TestSimulatorExampleWorks(t *testing.T) {
	ios, _, _, _ := cli.Test()
	c, _, err := NewRootCmd(&Factory{IO: ios}).Find([]string{"demo", "simulator"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.Long, `eval "$(`) || !strings.Contains(c.Long, "tabhook demo simulator &") || !strings.Contains(c.Long, simulatorEnv(defaultSimulatorAddr)) {
		t.Fatalf("help example:\n%s", c.Long)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "500MB": 500e6, "64 KiB": 64 << 10, "123": 123, "0": 0, "1.5GiB": 3 << 29} {
		if got, err := config.ParseSize(in); err != nil || got != want {
			t.Errorf("config.ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1GB", "1XB"} {
		if _, err := config.ParseSize(bad); err == nil {
			t.Errorf("config.ParseSize(%q) accepted", bad)
		}
	}
}

// TestManPagesTitledAfterTheirCommand: each page's .TH names its own command.
func TestManPagesTitledAfterTheirCommand(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := run(t, &Factory{}, nil, "docs", "man", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "tabhook-webhook-list.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `.TH "TABHOOK-WEBHOOK-LIST"`) {
		t.Errorf("title of tabhook-webhook-list.1: %s", strings.SplitN(string(page), "\n", 3)[:2])
	}
}

func TestEventsTakeSpacesAndCommas(t *testing.T) {
	got, err := config.Events([]string{"WorkbookUpdated datasource-refresh-failed,AdminPromoted"})
	if err != nil || strings.Join(got, " ") != "WorkbookUpdated DatasourceRefreshFailed AdminPromoted" {
		t.Fatalf("%v %v", got, err)
	}
}
