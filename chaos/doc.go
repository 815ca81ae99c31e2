// Package chaos is Tocsin's fault-injection harness and no-loss checker,
// `tocsin chaos`: it runs a real cluster of three `tocsin node` processes
// on loopback, member agents (`tocsin agent` processes) writing JSONL sinks,
// and in-process publishers that record every PubAck; a nemesis kills,
// pauses, restarts and partitions nodes, slows their routes and crashes
// agents, while a campaign of bad input runs at full speed. The checker
// then compares what every publisher was acknowledged with what every sink
// holds and what the rejections stream says.
//
// # Routes through proxies
//
// NATS routes gossip and dial the addresses nodes advertise, so a
// partition made by cutting only the configured routes would be bypassed.
// Every node therefore dials its peers only through per-pair TCP proxies
// (proxy i→j carries node i's routes to node j) and advertises a proxy of
// its own; a partition cuts every pair that crosses it and every
// advertised proxy, and is counted only once the nodes' own /status says
// the routes are gone. Latency is added in the proxies too.
//
// # Sites and regions
//
// Some members run a member site (`tocsin site`, a leaf node of the hub):
// its leaf link runs only through proxies of its own, one per node, and
// every node advertises a proxy that refuses everything as its leaf and
// gateway address, so that nothing learnt by gossip dials around a cut.
// The member's agent reads at its site and the member publishes there
// too; the checker counts every path (hub or site to a hub or site
// agent). With Options.Regions the nodes are deploy/regions on loopback
// (east and west, each with its own stream set, the registry in east; a
// witness), their gateways through a proxy per ordered pair, the members
// homed in east and west in turn, and the nemesis cuts a region's
// gateways or kills east or west whole and restarts it.
//
// # What a process kill cannot show
//
// SIGKILL ends a process but keeps the kernel's page cache, so writes a
// node had not yet fsynced survive it. The risk of sync_interval at the
// NATS default (2m) is the loss of exactly those writes on a power loss or
// kernel crash of several nodes at once; see docs/RELIABILITY.md.
package chaos
