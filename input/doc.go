// Package input injects the support rep's keyboard and pointer actions into
// the customer's desktop and reads and writes the customer's clipboard.
//
// Keys arrive as the browser describes them (KeyboardEvent.code for the
// physical key, KeyboardEvent.key for the text it made) and are mapped key by
// key (Resolve): keys that are not text by their code, text by its
// character, so that arrows, F-keys, the numeric keypad and modifiers mean
// the same on both sides and an "é" typed on the rep's layout is an "é" on
// the customer's, whatever the customer's layout.
//
// On Linux/X11 everything goes through the XTEST extension on one X
// connection of our own (jezek/xgb): keysyms are looked up in the server's
// keyboard mapping, Shift and NumLock are set around a key when its
// character or keypad meaning needs it, and characters the keyboard lacks
// (accents of other layouts, CJK, emoji, F13-F24) are typed through a spare
// keycode remapped for them, as xdotool does. Elsewhere robotgo presses the
// keys. The clipboard goes through atotto/clipboard (xclip/xsel on X11).
//
// The package imports only the standard library, robotgo, the clipboard
// package and xgb; the agent wires it to the session and decides who may use
// it (the customer's grant).
package input
