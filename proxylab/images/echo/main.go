// echo: proxylab's test backend and in-cluster probe client, one static binary.
//
//	echo serve            HTTP on $HTTP_PORT (8080) and UDP on $UDP_PORT (8081); each answer is
//	                      JSON {pod, node, client}; GET /ready reports readiness, which
//	                      POST /admin/ready and /admin/unready flip; $DELAY_MS adds latency.
//	echo get URL N        N requests, a new TCP connection each; prints counts per backend, error
//	                      kinds, and the client IPs the backends saw
//	echo series URL DURATION_MS INTERVAL_MS  a request every interval; prints {"started": epoch_ms, "samples": [[epoch_ms, pod|!error], ...]}
//	echo udp HOST:PORT N  N datagrams from fresh sockets; counts per backend
//	echo resolve NAME     prints the addresses NAME resolves to, as JSON
//	echo connect HOST:PORT  one TCP connect; prints {"ok":bool,"error":..., "ms":...}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
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
		// Latency: the backend-wide fault delay plus an optional per-request ?delay_ms=N (used to
		// hold a request in flight while its backend drains).
		d := delayMS.Load()
		if q, err := strconv.Atoi(r.URL.Query().Get("delay_ms")); err == nil && q > 0 && q <= 60000 {
			d += int64(q)
		}
		if d > 0 {
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
	// Graceful drain: on SIGTERM turn unready at once, keep serving for $DRAIN_SECONDS (new and
	// in-flight requests alike, as a real backend behind a terminating endpoint would), then stop
	// accepting and wait for in-flight requests to finish.
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ready.Store(false)
		drain, _ := strconv.Atoi(env("DRAIN_SECONDS", "0"))
		time.Sleep(time.Duration(drain) * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// fetch makes one request on a new TCP connection; it returns the answer or an error kind.
func fetch(client *http.Client, url string) (answer, string) {
	var a answer
	resp, err := client.Get(url)
	if err != nil {
		return a, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return a, "status_" + strconv.Itoa(resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, "bad_answer"
	}
	return a, ""
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// get: N sequential requests; per-backend counts, error kinds, and the client IPs backends saw.
func get(url string, n int) {
	counts, errs, clients, nodes := map[string]int{}, map[string]int{}, map[string]int{}, map[string]string{}
	client := newClient(3 * time.Second)
	for i := 0; i < n; i++ {
		a, kind := fetch(client, url)
		if kind != "" {
			errs[kind]++
			continue
		}
		counts[a.Pod]++
		clients[a.Client]++
		nodes[a.Pod] = a.Node
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"counts": counts, "errors": errs, "clients": clients, "nodes": nodes})
}

// series: one request every INTERVAL_MS for DURATION_MS; each sample is [epoch ms, pod or "!"+error].
// Times are wall-clock epoch milliseconds, like proxylab/perf/probe.py's: pods share the host
// kernel's clock with the harness, so the harness compares them with the moment it changed the
// cluster. (A time since the probe's own start would be off by however long the exec took to
// start the probe, which under load is seconds.)
func series(url string, durationMS, intervalMS int) {
	client := newClient(time.Duration(max(intervalMS, 500)) * time.Millisecond)
	start := time.Now()
	samples := [][2]any{}
	interval := time.Duration(intervalMS) * time.Millisecond
	for i := 1; time.Since(start) < time.Duration(durationMS)*time.Millisecond; i++ {
		t := time.Now().UnixMilli()
		a, kind := fetch(client, url)
		if kind != "" {
			samples = append(samples, [2]any{t, "!" + kind})
		} else {
			samples = append(samples, [2]any{t, a.Pod})
		}
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"started": start.UnixMilli(), "samples": samples})
}

// udp: N datagrams, each from a new socket (new source port); counts per backend.
func udp(addr string, n int) {
	counts, errs := map[string]int{}, map[string]int{}
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			errs[classify(err)]++
			continue
		}
		conn.SetDeadline(time.Now().Add(time.Second))
		var a answer
		if _, err = conn.Write([]byte("ping")); err == nil {
			var k int
			if k, err = conn.Read(buf); err == nil {
				err = json.Unmarshal(buf[:k], &a)
			}
		}
		conn.Close()
		if err != nil {
			errs[classify(err)]++
			continue
		}
		counts[a.Pod]++
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"counts": counts, "errors": errs})
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "expected a positive integer, got", s)
		os.Exit(2)
	}
	return n
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: echo serve | get URL N | series URL DURATION_MS INTERVAL_MS | udp HOST:PORT N | resolve NAME | connect HOST:PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "get":
		get(os.Args[2], atoi(os.Args[3]))
	case "series":
		series(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]))
	case "udp":
		udp(os.Args[2], atoi(os.Args[3]))
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
