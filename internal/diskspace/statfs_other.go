//go:build !(linux || darwin || freebsd)

package diskspace

// Of cannot read the file system's usage here.
func Of(string) (Usage, bool) { return Usage{}, false }
