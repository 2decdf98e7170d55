package chatwin

func opener(string) (string, []string) {
	return "rundll32", []string{"url.dll,FileProtocolHandler"}
}
