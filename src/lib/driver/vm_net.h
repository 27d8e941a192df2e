/* A VM container's network: the host side of `--network ns:PATH` (sandbox/netns.h) for a VM.

   The network namespace at PATH was set up before the container starts (a veth `eth0` with its address, MAC and
   routes, `eth1`… for more networks).  The monitor enters it for a moment and, as Kata Containers does by default,
   makes a tap device there for each interface (`tapN_isola` for the Nth in name order) joined to it both ways by tc:
   an ingress qdisc on each with a u32 match-all filter whose mirred action redirects every frame to the other's
   egress.  QEMU gets the taps as descriptors (it runs in a network namespace of its own, without privileges:
   driver/vm_jail.h) behind the guest's virtio-net devices, the Nth tap behind NIC N (vm_launch.h), and the agent
   gives that NIC the interface's name, MAC, MTU, addresses and routes, read here from the namespace, so that
   whoever set the namespace up, the guest matches it.  The frames never touch the host side's IP stack.

   The tap goes with its last descriptor (QEMU's); the qdiscs on the interface stay until vm_net_release (the
   driver's cleanup: stop, rm, the monitor after the VM) or the next start, which replaces them. */
#ifndef ISOLA_VM_NET_H
#define ISOLA_VM_NET_H

#include <stdbool.h>

#include <jansson.h>

#include "base/error.h"

#include "driver/vm_launch.h"

struct vm_net
{
  int taps[VM_NICS]; /* the taps, for QEMU's -netdev tap,fd=N, behind NICs 0 to n_taps - 1 */
  size_t n_taps;     /* 0: the VM has no network namespace */
  json_t *config;    /* START's "Network": {"Interfaces": [{Name, Mac, Mtu, Addresses: ["a.b.c.d/n"],
                        Addresses6: ["x::y/n"], Device: the NIC's own MAC (VM_NIC_MAC_FORMAT),
                        Routes: [{Destination: "a.b.c.d/n", Gateway: "a.b.c.d" or "", Metric}],
                        Routes6: [{Destination: "x::/n", Gateway: "x::y", Metric}] (through a gateway)}]} */
};

/* The taps in the namespace at netns for the guest's nics NICs (vm_nics), joined to its interfaces, and what the
   guest must be told: a namespace with more interfaces besides lo is refused (ENOTSUP). */
int vm_net_setup (const char *netns, size_t nics, struct vm_net *out, isola_error_t *err);
void vm_net_clear (struct vm_net *n);

/* A network connected to or disconnected from the running VM: its interface ifname ("ethK", in the namespace at
   netns) wired to NIC K's tap, or that tap unwired (the interface is gone); with config, what the guest is to be
   told of its NICs now (START's "Network", for NETWORK: docs/VMPROTO.md).  ENOTSUP for a VM without spare taps. */
int vm_net_change (const char *netns, const char *ifname, bool connected, json_t **config, isola_error_t *err);

/* Removes the redirections set up in the namespace at netns (a namespace that is gone has none left). */
int vm_net_release (const char *netns, isola_error_t *err);

#endif
