// echo: proxylab's test backend and in-cluster probe client, one static binary.
//
//	echo serve            HTTP on $HTTP_PORT (8080) and UDP on $UDP_PORT (8081); each answer is
//	                      JSON {pod, node, client}; GET /ready reports readiness, which
//	                      POST /admin/ready and /admin/unready flip; $DELAY_MS adds latency.
//	echo get URL N        N requests, a new TCP connection each; prints counts per backend, error
//	                      kinds, and the client IPs the backends saw
//	echo series URL DURATION_MS INTERVAL_MS [TIMEOUT_MS]
//	                      a request every interval; prints {"started": epoch_ms, "samples":
//	                      [[epoch_ms, pod|!kind], ...]}. Without TIMEOUT_MS each request may take
//	                      max(INTERVAL_MS, 500) ms in all; with it, the connect may take TIMEOUT_MS
//	                      and the answer max(TIMEOUT_MS, 1000) ms more.
//	echo until HOST:PORT WANT DEADLINE_S TIMEOUT_MS GAP_MS
//	                      one GET on a new connection per attempt (connect timeout TIMEOUT_MS, then
//	                      a GAP_MS pause) until the outcome is WANT ("ok" or a failure kind, e.g.
//	                      "refused") or DEADLINE_S passed; prints {"started", "hit" (start of the
//	                      first attempt with that outcome, null if none), "prev" (start of the
//	                      attempt before it), "attempts", "outcomes" {kind: n}, "pod"} with times
//	                      in epoch seconds. Resolution: at most TIMEOUT_MS + GAP_MS.
//	echo udp HOST:PORT N  N datagrams from fresh sockets; counts per backend
//	echo udpseries HOST:PORT DURATION_MS INTERVAL_MS
//	                      a datagram every interval from ONE socket (one source port, kept open:
//	                      one conntrack flow), each answer awaited until the next send; prints
//	                      {"started": epoch_ms, "local_port": N, "late": n, "samples":
//	                      [[epoch_ms, pod|!kind], ...]} ("!timeout": no answer within the
//	                      interval; "late": extra answers found queued at a send, dropped.
//	                      Datagrams carry no sequence number: an answer later than its
//	                      interval is taken as the next datagram's)
//	echo resolve NAME     prints the addresses NAME resolves to, as JSON
//	echo connect HOST:PORT  one TCP connect; prints {"ok":bool,"error":..., "kind":..., "ms":...}
//	echo connect HOST:PORT N
//	                      N sequential TCP connects (closed at once, 2 s timeout each); prints
//	                      {"ms": [connect ms of each success], "errors": {kind: n}}: the
//	                      first-packet latency (SYN to SYN-ACK through the NAT of a new flow)
//
// Every time printed is wall-clock epoch time: pods share the host kernel's clock with the
// harness, which compares them with the moment it changed the cluster. (A time since the probe's
// own start would be off by however long the exec took to start the probe, under load seconds.)
//
// Failure kinds are the vocabulary of proxylab/failures.py, emitted as the kind* constants below;
// suites/unit/test_failures.py checks that the two lists are the same.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

// Failure kinds: exactly the names of proxylab/failures.py (suites/unit/test_failures.py compares
// this block with that list). An HTTP status other than 200 is kindHTTPPrefix + the code.
const (
	kindRefused     = "refused"
	kindReset       = "reset"
	kindTimeout     = "timeout"
	kindUnreachable = "unreachable"
	kindDNS         = "dns"
	kindBadAnswer   = "bad_answer"
	kindOther       = "other"
	kindHTTPPrefix  = "http_"
)

// classify names a connection-level failure. A connection closed without an answer (EOF) is a
// reset, as locust's client reports it.
func classify(err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return kindReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return kindUnreachable
	case errors.As(err, &dnsErr):
		return kindDNS
	case errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	}
	return kindOther
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
		return a, kindHTTPPrefix + strconv.Itoa(resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, kindBadAnswer
	}
	return a, ""
}

func newClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// newProbeClient: the connect may take connect (the proxy's part: an unanswered SYN shows up
// as a timeout this fast), the answer max(connect, 1 s) more, like a backend's own latency.
func newProbeClient(connect time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: connect}
	answer := max(connect, time.Second)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			conn.SetDeadline(time.Now().Add(answer))
		}
		return conn, err
	}
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: dial}}
}

func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

func ms(d time.Duration) time.Duration {
	return d * time.Millisecond
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

// series: one request every INTERVAL_MS for DURATION_MS; each sample is [epoch ms, pod or "!"+kind].
// With timeoutMS > 0 requests use newProbeClient(timeoutMS), else a whole-request timeout of
// max(INTERVAL_MS, 500) ms.
func series(url string, durationMS, intervalMS, timeoutMS int) {
	client := newClient(ms(time.Duration(max(intervalMS, 500))))
	if timeoutMS > 0 {
		client = newProbeClient(ms(time.Duration(timeoutMS)))
	}
	start := time.Now()
	samples := [][2]any{}
	interval := ms(time.Duration(intervalMS))
	for i := 1; time.Since(start) < ms(time.Duration(durationMS)); i++ {
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

// until: a GET on a new connection per attempt until its outcome ("ok" or a failure kind) is
// want, or deadlineS passed. Times in epoch seconds.
func until(addr, want string, deadlineS, timeoutMS, gapMS float64) {
	client := newProbeClient(time.Duration(timeoutMS * float64(time.Millisecond)))
	url := "http://" + addr + "/"
	start := time.Now()
	deadline := time.Duration(deadlineS * float64(time.Second))
	gap := time.Duration(gapMS * float64(time.Millisecond))
	outcomes := map[string]int{}
	var prev any
	attempts := 0
	for time.Since(start) < deadline {
		t := time.Now()
		a, kind := fetch(client, url)
		attempts++
		outcome, who := "ok", a.Pod
		if kind != "" {
			outcome, who = kind, "!"+kind
		}
		outcomes[outcome]++
		if outcome == want {
			json.NewEncoder(os.Stdout).Encode(map[string]any{"started": epochSeconds(start), "hit": epochSeconds(t),
				"prev": prev, "attempts": attempts, "outcomes": outcomes, "pod": who})
			return
		}
		prev = epochSeconds(t)
		time.Sleep(gap)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"started": epochSeconds(start), "hit": nil, "prev": prev,
		"attempts": attempts, "outcomes": outcomes})
}

// connectOnce: one TCP connect (5 s timeout), its time and failure.
func connectOnce(addr string) {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	out := map[string]any{"ok": err == nil, "ms": float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		out["error"], out["kind"] = err.Error(), classify(err)
	} else {
		conn.Close()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

// connectMany: n sequential TCP connects (2 s timeout each, 2 ms apart), closed at once; the
// connect time of each success in ms (4 decimals) and the failures by kind.
func connectMany(addr string, n int) {
	times, errs := []float64{}, map[string]int{}
	for i := 0; i < n; i++ {
		start := time.Now()
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		took := time.Since(start)
		if err != nil {
			errs[classify(err)]++
		} else {
			conn.Close()
			times = append(times, math.Round(float64(took.Nanoseconds())/100)/1e4)
		}
		time.Sleep(2 * time.Millisecond)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"ms": times, "errors": errs})
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
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &syntax) || errors.As(err, &typeErr) {
			errs[kindBadAnswer]++
			continue
		}
		if err != nil {
			errs[classify(err)]++
			continue
		}
		counts[a.Pod]++
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"counts": counts, "errors": errs})
}

// udpSeries: a datagram every intervalMS for durationMS, all from one unconnected socket (one
// source port, so every datagram belongs to the same conntrack flow, as a long-lived client's
// would); each sample is [epoch ms of the send, pod or "!"+kind]. An answer is awaited until the
// next send; answers still queued at the next send are late (counted, not attributed). Answers
// carry no sequence number, so one later than its interval is read as the next datagram's.
func udpSeries(addr string, durationMS, intervalMS int) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpseries:", err)
		os.Exit(1)
	}
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpseries:", err)
		os.Exit(1)
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	start := time.Now()
	interval := ms(time.Duration(intervalMS))
	samples, late := [][2]any{}, 0
	for i := 1; time.Since(start) < ms(time.Duration(durationMS)); i++ {
		late += drainQueued(conn, buf)
		t := time.Now()
		conn.SetDeadline(start.Add(time.Duration(i) * interval))
		var a answer
		_, err := conn.WriteTo([]byte("ping"), raddr)
		if err == nil {
			var k int
			if k, _, err = conn.ReadFrom(buf); err == nil {
				err = json.Unmarshal(buf[:k], &a)
			}
		}
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax) || errors.As(err, &typeErr):
			samples = append(samples, [2]any{t.UnixMilli(), "!" + kindBadAnswer})
		case err != nil:
			samples = append(samples, [2]any{t.UnixMilli(), "!" + classify(err)})
		default:
			samples = append(samples, [2]any{t.UnixMilli(), a.Pod})
		}
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"started": start.UnixMilli(),
		"local_port": conn.LocalAddr().(*net.UDPAddr).Port, "late": late, "samples": samples})
}

// drainQueued reads (without waiting) every datagram already queued on conn: answers to earlier
// datagrams that came after their interval. (A read deadline in the past would not do: Go then
// fails the read without looking at the socket.)
func drainQueued(conn *net.UDPConn, buf []byte) int {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0
	}
	conn.SetReadDeadline(time.Time{}) // the last sample's deadline has passed: Read would not call f
	n := 0
	raw.Read(func(fd uintptr) bool {
		for {
			if _, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT); err != nil {
				return true // EAGAIN: nothing (more) queued; do not wait for readiness
			}
			n++
		}
	})
	return n
}

// number: a non-negative decimal (the until command's seconds and milliseconds).
func number(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		fmt.Fprintln(os.Stderr, "expected a non-negative number, got", s)
		os.Exit(2)
	}
	return f
}

// args: os.Args[2:] when their count is one of ns, else a usage error.
func args(usage string, ns ...int) []string {
	a := os.Args[2:]
	for _, n := range ns {
		if len(a) == n {
			return a
		}
	}
	fmt.Fprintln(os.Stderr, "usage: echo", os.Args[1], usage)
	os.Exit(2)
	return nil
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
		fmt.Fprintln(os.Stderr, "usage: echo serve | get URL N | series URL DURATION_MS INTERVAL_MS [TIMEOUT_MS] | "+
			"until HOST:PORT WANT DEADLINE_S TIMEOUT_MS GAP_MS | udp HOST:PORT N | "+
			"udpseries HOST:PORT DURATION_MS INTERVAL_MS | resolve NAME | connect HOST:PORT [N]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve()
	case "get":
		a := args("URL N", 2)
		get(a[0], atoi(a[1]))
	case "series":
		a := args("URL DURATION_MS INTERVAL_MS [TIMEOUT_MS]", 3, 4)
		timeout := 0
		if len(a) == 4 {
			timeout = atoi(a[3])
		}
		series(a[0], atoi(a[1]), atoi(a[2]), timeout)
	case "until":
		a := args("HOST:PORT WANT DEADLINE_S TIMEOUT_MS GAP_MS", 5)
		until(a[0], a[1], number(a[2]), number(a[3]), number(a[4]))
	case "udp":
		a := args("HOST:PORT N", 2)
		udp(a[0], atoi(a[1]))
	case "udpseries":
		a := args("HOST:PORT DURATION_MS INTERVAL_MS", 3)
		udpSeries(a[0], atoi(a[1]), atoi(a[2]))
	case "resolve":
		a := args("NAME", 1)
		addrs, err := net.LookupHost(a[0])
		out := map[string]any{"name": a[0], "addresses": addrs}
		if err != nil {
			out["error"] = err.Error()
		}
		json.NewEncoder(os.Stdout).Encode(out)
	case "connect":
		a := args("HOST:PORT [N]", 1, 2)
		if len(a) == 2 {
			connectMany(a[0], atoi(a[1]))
		} else {
			connectOnce(a[0])
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", strings.Join(os.Args[1:], " "))
		os.Exit(2)
	}
}
