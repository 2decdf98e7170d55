package chatwin

func opener(string) (string, []string) { return "open", nil }
