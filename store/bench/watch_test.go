package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestDeliveriesMeasureFromSendToReceipt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(msAfter int) time.Time { return t0.Add(time.Duration(msAfter) * time.Millisecond) }
	sent := []time.Time{at(0), at(10), at(20)}
	tests := []struct {
		name          string
		received      [][]time.Time
		wantDelivered int
		wantAll       bool
		wantP50       time.Duration
		wantMax       time.Duration
	}{
		{
			name:          "every watcher got every write",
			received:      [][]time.Time{{at(1), at(12), at(23)}, {at(4), at(15), at(26)}},
			wantDelivered: 6, wantAll: true, wantP50: 3 * time.Millisecond, wantMax: 6 * time.Millisecond,
		},
		{
			name:          "a missed event is not a delay",
			received:      [][]time.Time{{at(1), {}, at(21)}, {at(2), at(12), at(22)}},
			wantDelivered: 5, wantAll: false, wantP50: 2 * time.Millisecond, wantMax: 2 * time.Millisecond,
		},
		{
			name:          "no watchers delivers nothing",
			received:      nil,
			wantDelivered: 0, wantAll: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Deliveries(sent, tt.received)
			if got.Delivered != tt.wantDelivered || got.AllDelivered() != tt.wantAll || got.Delay.P50 != tt.wantP50 || got.Delay.Max != tt.wantMax {
				t.Errorf("got %d delivered (all: %v), p50 %v, max %v; want %d (%v), %v, %v",
					got.Delivered, got.AllDelivered(), got.Delay.P50, got.Delay.Max, tt.wantDelivered, tt.wantAll, tt.wantP50, tt.wantMax)
			}
			if got.Watchers != len(tt.received) || got.Writes != 3 || got.Expected != 3*len(tt.received) {
				t.Errorf("got %d watchers, %d writes, %d expected", got.Watchers, got.Writes, got.Expected)
			}
		})
	}
}

func TestWaitAllSaysHowManyAreLate(t *testing.T) {
	chans := make([]chan struct{}, 4)
	for i := range chans {
		chans[i] = make(chan struct{})
	}
	close(chans[0])
	close(chans[3])
	err := waitAll(context.Background(), chans, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 not done") {
		t.Fatalf("got %v, want 2 of 4 late", err)
	}
	close(chans[1])
	close(chans[2])
	if err := waitAll(context.Background(), chans, time.Millisecond); err != nil {
		t.Fatalf("all closed: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitAll(ctx, []chan struct{}{make(chan struct{})}, time.Hour); err != context.Canceled {
		t.Fatalf("cancelled: got %v", err)
	}
}
