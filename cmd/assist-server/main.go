// Command assist-server is the support server: the customers' support page,
// the reps' web console, WebSocket signalling between agents and reps, and
// the session registry.
//
//	assist-server serve [--listen 127.0.0.1:8200] [--rep-token T] [--public-url URL]
//	                    [--downloads DIR] [--ice-server URL]...
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"assist/protocol"
	"assist/server"
)

var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "assist-server:", err)
		os.Exit(1)
	}
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func usage() {
	fmt.Fprint(os.Stderr, `usage: assist-server serve [flags]
       assist-server version

serve flags:
  --listen ADDR        address to listen on (default 127.0.0.1:8200; env ASSIST_LISTEN)
  --rep-token T        the reps' token (env ASSIST_REP_TOKEN; printed at start when neither is given)
  --public-url URL     the URL customers reach this server at (default: from each request)
  --downloads DIR      directory of agent binaries (assist-<os>-<arch>[.exe]) offered on the support page
  --ice-server URL     a STUN/TURN URL handed to both peers (repeatable; user:pass@ for TURN credentials)
  --turn               run the built-in TURN relay on the listen port, TCP and UDP (default true)
  --turn-host H        the name or address peers reach the relay at (default: the host of
                       --public-url, else the listen address when it is not a wildcard)
  --turn-relay-ip IP   the address relayed traffic uses (default: --turn-host when it is an IP)
  --reconnect-window D how long a dropped agent may take to come back (default 10m)
  --state FILE         keep the sessions in FILE, so that a restarted server resumes them
                       (default: in memory only; env ASSIST_SERVER_STATE)
  --log-level L        debug, info, warn or error (default info)
`)
}

func run(args []string) error {
	if len(args) == 0 {
		usage()
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "version", "--version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		usage()
		return nil
	default:
		usage()
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = usage
	listen := fs.String("listen", envOr("ASSIST_LISTEN", "127.0.0.1:8200"), "")
	token := fs.String("rep-token", os.Getenv("ASSIST_REP_TOKEN"), "")
	public := fs.String("public-url", "", "")
	downloads := fs.String("downloads", "", "")
	window := fs.Duration("reconnect-window", 10*time.Minute, "")
	stateFile := fs.String("state", os.Getenv("ASSIST_SERVER_STATE"), "")
	level := fs.String("log-level", "info", "")
	var ice stringList
	fs.Var(&ice, "ice-server", "")
	turnOn := fs.Bool("turn", true, "")
	turnHost := fs.String("turn-host", "", "")
	turnRelay := fs.String("turn-relay-ip", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	if *token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		*token = hex.EncodeToString(b)
		fmt.Printf("rep token: %s\n", *token)
	}
	servers, err := parseICE(ice)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var turnCfg *server.TURNConfig
	if *turnOn {
		turnCfg, err = relayConfig(ln.Addr().(*net.TCPAddr), *public, *turnHost, *turnRelay)
		if err != nil {
			ln.Close()
			return err
		}
		if turnCfg == nil {
			log.Warn("TURN relay off: listening on a wildcard address without --public-url or --turn-host")
		}
	}
	srv, err := server.New(server.Config{
		RepToken: *token, PublicURL: *public, Downloads: *downloads, ICEServers: servers, TURN: turnCfg,
		ReconnectWindow: *window, StateFile: *stateFile, Version: version, Logger: log,
	})
	if err != nil {
		ln.Close()
		if turnCfg != nil && turnCfg.UDP != nil {
			turnCfg.UDP.Close()
		}
		return err
	}
	defer srv.Close()
	httpLn := srv.SplitListener(ln)
	if turnCfg != nil {
		log.Info("TURN relay", "host", turnCfg.Host, "port", turnCfg.Port, "relay_ip", turnCfg.RelayIP.String(), "udp", turnCfg.UDP != nil)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(httpLn) }()
	log.Info("serving", "addr", ln.Addr().String(), "console", "http://"+ln.Addr().String()+"/console")
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// relayConfig works out where the TURN relay is reachable. It returns nil
// (relay off) when nothing says which address peers should use.
func relayConfig(addr *net.TCPAddr, public, host, relayIP string) (*server.TURNConfig, error) {
	if host == "" && public != "" {
		u, err := url.Parse(public)
		if err != nil {
			return nil, fmt.Errorf("--public-url: %w", err)
		}
		host = u.Hostname()
	}
	if host == "" && !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	if host == "" {
		return nil, nil
	}
	var ip net.IP
	switch {
	case relayIP != "":
		ip = net.ParseIP(relayIP)
		if ip == nil {
			return nil, fmt.Errorf("--turn-relay-ip %q is not an IP address", relayIP)
		}
	case net.ParseIP(host) != nil:
		ip = net.ParseIP(host)
	default:
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("TURN: cannot resolve %q for the relay address (set --turn-relay-ip): %v", host, err)
		}
		ip = ips[0]
	}
	cfg := &server.TURNConfig{Host: host, Port: addr.Port, RelayIP: ip}
	udp, err := net.ListenPacket("udp", net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port)))
	if err == nil {
		cfg.UDP = udp
	}
	return cfg, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// parseICE turns "turn:user:pass@host:port?transport=tcp" style flags into
// ICE servers; credentials go before the last '@'.
func parseICE(urls []string) ([]protocol.ICEServer, error) {
	var out []protocol.ICEServer
	for _, u := range urls {
		scheme, rest, ok := strings.Cut(u, ":")
		if !ok || (scheme != "stun" && scheme != "turn" && scheme != "turns") {
			return nil, fmt.Errorf("--ice-server %q: want stun:, turn: or turns: URL", u)
		}
		s := protocol.ICEServer{}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			rest = rest[at+1:]
			user, pass, _ := strings.Cut(cred, ":")
			s.Username, s.Credential = user, pass
		}
		s.URLs = []string{scheme + ":" + rest}
		out = append(out, s)
	}
	return out, nil
}
