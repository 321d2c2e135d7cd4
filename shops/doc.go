// Package shops is the many-shops surface of shoptoken: an App is one app on one platform with
// many shops (grants), each with its own token, kept by one engine (a shoptoken.Cache per shop)
// that the App wires itself, so that it cannot be miswired:
//
//   - every shop's token is named by shoptoken.Key{Platform, App, Shop}, built by the SDK: every
//     process, every service and the operators' tools find the same token under the same key;
//   - the Store, the due index, the events and the engine options are applied by the App to every
//     shop's Cache, not by a factory the caller could get wrong;
//   - due times live in the store's shoptoken.DueIndex under the app's namespace
//     (Key.Namespace), so two platforms, or two apps on one platform, can share one Redis and one
//     prefix and a Keeper only ever sees the shops of its own app. Due times are written in
//     batches by one writer per App and are never dropped;
//   - the Keeper (Run, Sweep) refreshes grants nobody is using before they lapse and reports
//     those that need a person (WithOnReauthorize), with the same Key as the events; WithOnSweep
//     reports what each sweep did, for metrics.
//
// Platform packages build an App with their Config (youzan.NewApp, veapi.NewApp, ...); that is
// where the logger and the clock are given, once, for everything. New is for a platform of your
// own: describe it with a Platform.
//
// # Concurrency and cost
//
// An App is safe for concurrent use. Looking a shop up takes no lock and allocates nothing (a
// concurrent map); with WithMaxCaches, the least recently used shops are closed (an approximate
// LRU, the CLOCK algorithm) and their tokens reloaded from the store when they are needed again.
// The Caches of an App share one set of options (shoptoken.Template).
//
// # Shutting down
//
// Shutdown stops the Keeper, waits for refreshes under way and unsaved tokens, and writes the due
// times not yet written, until its context ends.
package shops
