package cmd

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tabhook/tabhook/internal/cli"
	"github.com/tabhook/tabhook/internal/creds"
)

// enforceUsage makes every mistake on the command line a usage error (exit 2), as the
// README's exit-code table promises: a mistyped subcommand never prints a group's
// help and exits 0 — a script would believe `tabhook webhook delet ID` deleted
// something — and an extra argument is refused by every command.
func enforceUsage(c *cobra.Command) {
	c.SuggestionsMinimumDistance = 2
	showEnv(c)
	for _, sub := range c.Commands() {
		enforceUsage(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		}
		return
	}
	orig := c.Args
	if orig == nil {
		return // takes any number of IDs, checked by the command
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		err := orig(cmd, args)
		switch {
		case err == nil:
			return nil
		case cmd.HasSubCommands() && len(args) > 0:
			return unknownCommand(cmd, args[0])
		}
		var ue *cli.UsageError
		if errors.As(err, &ue) {
			return err
		}
		return cli.Usagef("%v\nRun '%s --help' for usage.", err, cmd.CommandPath())
	}
}

// unknownCommand is the error for a subcommand that does not exist, with the nearest
// ones when there are.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	slices.Sort(names)
	msg += fmt.Sprintf("\n\nAvailable commands: %s\nRun '%s --help' for usage.", strings.Join(names, ", "), cmd.CommandPath())
	return cli.Usagef("%s", msg)
}

// showEnv names each flag's environment variable in its help, as the README does, or
// says that the flag has none: --yes, selections and a listing's filters are read from
// the command line only.
func showEnv(c *cobra.Command) {
	c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
		switch {
		case fl.Name == "help" || fl.Name == "version" || fl.Name == "config":
		case creds.CommandLineOnly(fl):
			if !strings.Contains(fl.Usage, "command line only") {
				fl.Usage += " (command line only)"
			}
		case !strings.Contains(fl.Usage, "env "+creds.EnvName(fl.Name)):
			fl.Usage += " (env " + creds.EnvName(fl.Name) + ")"
		}
	})
}
