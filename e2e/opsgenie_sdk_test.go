package e2e

import (
	"context"
	"errors"
	"io"
	"testing"

	ogclient "github.com/opsgenie/opsgenie-go-sdk-v2/client"
	"github.com/opsgenie/opsgenie-go-sdk-v2/heartbeat"
	"github.com/opsgenie/opsgenie-go-sdk-v2/og"
	"github.com/sirupsen/logrus"
)

// The official Opsgenie Go SDK, pointed at vigilo by its base URL and key alone,
// goes through a heartbeat's whole life.
func TestOpsgenieGoSDK(t *testing.T) {
	t.Parallel()
	s := start(t, "")
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	// The SDK speaks plain HTTP to an address without "api" in it (its own tests
	// rely on that), so the loopback address is the whole change.
	hb, err := heartbeat.NewClient(&ogclient.Config{ApiKey: apiKey, OpsGenieAPIURL: ogclient.ApiUrl(s.addr), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enabled := true
	added, err := hb.Add(ctx, &heartbeat.AddRequest{
		Name: "sdk-heartbeat", Description: "made by the SDK", Interval: 10, IntervalUnit: heartbeat.Minutes,
		Enabled: &enabled, OwnerTeam: og.OwnerTeam{Name: "ops"}, AlertMessage: "sdk-heartbeat is late",
		AlertTag: []string{"sdk"}, AlertPriority: "P2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if added.Name != "sdk-heartbeat" || added.Interval != 10 || added.IntervalUnit != "minutes" || !added.Enabled ||
		added.OwnerTeam.Name != "ops" || added.RequestId == "" || added.ResponseTime <= 0 {
		t.Fatalf("add: %+v", added)
	}
	got, err := hb.Get(ctx, "sdk-heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "made by the SDK" || got.AlertMessage != "sdk-heartbeat is late" || got.AlertPriority != "P2" ||
		len(got.AlertTags) != 1 || got.Expired {
		t.Fatalf("get: %+v", got)
	}
	list, err := hb.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Heartbeats) != 1 || list.Heartbeats[0].Name != "sdk-heartbeat" {
		t.Fatalf("list: %+v", list.Heartbeats)
	}
	updated, err := hb.Update(ctx, &heartbeat.UpdateRequest{
		Name: "sdk-heartbeat", Description: "updated by the SDK", Interval: 2, IntervalUnit: heartbeat.Hours,
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "sdk-heartbeat" || !updated.Enabled || updated.Expired {
		t.Fatalf("update: %+v", updated)
	}
	if got, err = hb.Get(ctx, "sdk-heartbeat"); err != nil || got.Interval != 2 || got.IntervalUnit != "hours" ||
		got.Description != "updated by the SDK" || got.OwnerTeam.Name != "" {
		// The SDK's update always sends an ownerTeam, empty here: Opsgenie makes
		// the heartbeat global then, and so does vigilo.
		t.Fatalf("after update: %+v %v", got, err)
	}
	pong, err := hb.Ping(ctx, "sdk-heartbeat")
	if err != nil || pong.Message != "PONG - Heartbeat received" {
		t.Fatalf("ping: %+v %v", pong, err)
	}
	var list3 struct{ Checks []check }
	s.api("GET", "/api/v3/checks/", apiKey, "", 200, &list3)
	if len(list3.Checks) != 1 || list3.Checks[0].NPings != 1 || list3.Checks[0].Status != "up" || list3.Checks[0].Timeout != 7200 {
		t.Fatalf("the SDK's heartbeat through Healthchecks.io: %+v", list3.Checks)
	}
	if info, err := hb.Disable(ctx, "sdk-heartbeat"); err != nil || info.Enabled {
		t.Fatalf("disable: %+v %v", info, err)
	}
	if info, err := hb.Enable(ctx, "sdk-heartbeat"); err != nil || !info.Enabled {
		t.Fatalf("enable: %+v %v", info, err)
	}
	if del, err := hb.Delete(ctx, "sdk-heartbeat"); err != nil || del.Message != "Deleted" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	// Errors reach the SDK as its ApiError, with Opsgenie's status and message.
	_, err = hb.Get(ctx, "sdk-heartbeat")
	var apiErr *ogclient.ApiError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Message == "" || apiErr.RequestId == "" {
		t.Fatalf("get after delete: %v", err)
	}
	_, err = hb.Add(ctx, &heartbeat.AddRequest{Name: "bad", Interval: 1, IntervalUnit: "weeks", Enabled: &enabled})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || apiErr.Errors["intervalUnit"] == "" {
		t.Fatalf("add with a bad unit: %v", err)
	}
}
