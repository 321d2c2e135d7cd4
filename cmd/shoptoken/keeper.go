package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/shoptoken/shoptoken"
	"github.com/shoptoken/shoptoken/otelshoptoken"
	"github.com/shoptoken/shoptoken/shops"
)

func (c *cli) keeperCommand() *cobra.Command {
	var listen string
	var every, grace time.Duration
	var rate float64
	cmd := &cobra.Command{
		Use:   "keeper",
		Short: "Run the Keeper of every configured app as a service, with /healthz and /metrics",
		Long: `keeper keeps every configured app's grants alive (App.Run: a sweep of the due index every
--sweep-every) until SIGTERM or SIGINT, and serves on --listen:

  /healthz   200 while every app's last sweep succeeded, else 503; JSON either way
  /metrics   the SDK's OpenTelemetry metrics in Prometheus format (refreshes, failures,
             sweeps, the tokens held), per platform and app, never per shop

Logs are JSON (slog) on standard error. On SIGTERM or SIGINT it stops sweeping and waits up to
--shutdown-timeout for refreshes under way and for every new token to be saved: a rotation in
flight is never abandoned. Exit 0 when everything was saved, 4 when the wait ran out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.keep(cmd.Context(), listen, every, rate, grace)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9464", "address of /healthz and /metrics")
	cmd.Flags().DurationVar(&every, "sweep-every", time.Minute, "how often each app's due index is swept")
	cmd.Flags().Float64Var(&rate, "rate", 20, "most shops refreshed per second per app")
	cmd.Flags().DurationVar(&grace, "shutdown-timeout", 30*time.Second, "how long shutdown waits for refreshes and saves")
	return cmd
}

// health is the last sweep of each app.
type health struct {
	mu    sync.Mutex
	apps  map[string]*sweepState
	start time.Time
}

type sweepState struct {
	Sweeps    int64     `json:"sweeps"`
	LastSweep time.Time `json:"last_sweep,omitempty"`
	Due       int       `json:"last_due"`
	Refreshed int       `json:"last_refreshed"`
	Failed    int       `json:"last_failed"`
	Reauth    int       `json:"last_reauthorize"`
	Error     string    `json:"error,omitempty"`
}

func (h *health) onSweep(app shoptoken.Key, res shops.SweepResult, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.apps[app.Namespace()]
	if s == nil {
		s = &sweepState{}
		h.apps[app.Namespace()] = s
	}
	s.Sweeps++
	s.LastSweep = time.Now()
	s.Due, s.Refreshed, s.Failed, s.Reauth = res.Due, res.Refreshed, res.Failed, len(res.Reauthorize)
	s.Error = ""
	if err != nil && !errors.Is(err, context.Canceled) {
		s.Error = err.Error()
	}
}

func (h *health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	ok := true
	apps := map[string]sweepState{}
	for ns, s := range h.apps {
		apps[ns] = *s
		if s.Error != "" {
			ok = false
		}
	}
	h.mu.Unlock()
	status := "ok"
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		status = "failing"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "apps": apps, "up_since": h.start})
}

func (c *cli) keep(ctx context.Context, listen string, every time.Duration, rate float64, grace time.Duration) error {
	log := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	exporter, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutScopeInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	tel, err := otelshoptoken.New(otelshoptoken.WithMeterProvider(mp))
	if err != nil {
		return err
	}
	h := &health{apps: map[string]*sweepState{}, start: time.Now()}
	c.log = log // the SDK's events and sweeps, as JSON
	e, err := c.open(ctx, false, tel.AppOption(), shops.WithOnSweep(h.onSweep),
		shops.WithSweepEvery(every), shops.WithRate(rate))
	if err != nil {
		return err
	}
	for _, a := range e.apps {
		stop := tel.Observe(a.app)
		defer stop()
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		e.close()
		return usagef("--listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	names := make([]string, len(e.apps))
	for i, a := range e.apps {
		names[i] = a.name()
	}
	log.Info("shoptoken keeper started", "listen", ln.Addr().String(), "apps", names, "sweep_every", every.String())

	runCtx, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, a := range e.apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.app.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("shoptoken keeper stopped", "app", a.name(), "err", err.Error())
			}
		}()
	}
	<-ctx.Done()
	log.Info("shoptoken keeper shutting down", "timeout", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err = e.shutdown(sctx) // stops the Keepers, waits for refreshes under way and unsaved tokens
	stopRuns()
	wg.Wait()
	_ = srv.Shutdown(sctx)
	if err != nil {
		log.Error("shoptoken keeper: not everything was saved", "err", err.Error())
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("shoptoken keeper stopped: every refresh under way finished and was saved")
	return nil
}
