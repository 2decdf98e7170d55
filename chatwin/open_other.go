//go:build !windows && !darwin

package chatwin

func opener(string) (string, []string) { return "xdg-open", nil }
