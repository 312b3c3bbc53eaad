// echo: proxylab's test backend and in-cluster probe client, one static binary.
//
//	echo serve            HTTP on $HTTP_PORT (8080) and UDP on $UDP_PORT (8081); each answer is
//	                      JSON {pod, node, client}; GET /ready reports readiness, which
//	                      POST /admin/ready and /admin/unready flip; $DELAY_MS adds latency.
//	echo get URL N        N requests, a new TCP connection each; prints {"counts":{pod:n},"errors":{kind:n}}
//	echo resolve NAME     prints the addresses NAME resolves to, as JSON
//	echo connect HOST:PORT  one TCP connect; prints {"ok":bool,"error":..., "ms":...}
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type answer struct {
	Pod    string `json:"pod"`
	Node   string `json:"node"`
	Client string `json:"client"`
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func serve() {
	var ready atomic.Bool
	ready.Store(true)
	delay, _ := strconv.Atoi(env("DELAY_MS", "0"))
	var delayMS atomic.Int64
	delayMS.Store(int64(delay))
	pod, node := env("POD_NAME", "unknown"), env("NODE_NAME", "unknown")
	reply := func(client string) []byte {
		b, _ := json.Marshal(answer{pod, node, client})
		return append(b, '\n')
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "unready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("/admin/ready", func(w http.ResponseWriter, r *http.Request) { ready.Store(true) })
	mux.HandleFunc("/admin/unready", func(w http.ResponseWriter, r *http.Request) { ready.Store(false) })
	mux.HandleFunc("/admin/delay", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a non-negative integer", http.StatusBadRequest)
			return
		}
		delayMS.Store(int64(ms))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d := delayMS.Load(); d > 0 {
			time.Sleep(time.Duration(d) * time.Millisecond)
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Header().Set("Content-Type", "application/json")
		w.Write(reply(host))
	})
	go func() {
		pc, err := net.ListenPacket("udp", ":"+env("UDP_PORT", "8081"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "udp:", err)
			os.Exit(1)
		}
		buf := make([]byte, 2048)
		for {
			_, addr, err := pc.ReadFrom(buf)
			if err != nil {
				continue
			}
			host, _, _ := net.SplitHostPort(addr.String())
			pc.WriteTo(reply(host), addr)
		}
	}()
	srv := &http.Server{Addr: ":" + env("HTTP_PORT", "8080"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "http:", err)
		os.Exit(1)
	}
}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

func get(url string, n int) {
	counts, errs := map[string]int{}, map[string]int{}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		resp, err := client.Get(url)
		if err != nil {
			errs[classify(err)]++
			continue
		}
		var a answer
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			errs["status_"+strconv.Itoa(resp.StatusCode)]++
			continue
		}
		counts[a.Pod]++
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"counts": counts, "errors": errs})
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: echo serve | get URL N | resolve NAME | connect HOST:PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "get":
		n, err := strconv.Atoi(os.Args[3])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "N must be a positive integer")
			os.Exit(2)
		}
		get(os.Args[2], n)
	case "resolve":
		addrs, err := net.LookupHost(os.Args[2])
		out := map[string]any{"name": os.Args[2], "addresses": addrs}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(os.Stdout).Encode(out)
	case "connect":
		start := time.Now()
		conn, err := net.DialTimeout("tcp", os.Args[2], 5*time.Second)
		out := map[string]any{"ok": err == nil, "ms": float64(time.Since(start).Microseconds()) / 1000}
		if err != nil {
			out["error"], out["kind"] = err.Error(), classify(err)
		} else {
			conn.Close()
		}
		json.NewEncoder(os.Stdout).Encode(out)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", strings.Join(os.Args[1:], " "))
		os.Exit(2)
	}
}
