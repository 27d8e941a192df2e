/* A VM container's network: the host side of `--network ns:PATH` (sandbox/netns.h) for a VM.

   The network namespace at PATH was set up before the container starts (a veth `eth0` with its address, MAC and
   routes).  The monitor enters it for a moment and, as Kata Containers does by default, makes a tap device there
   (VM_NET_TAP) joined to the interface both ways by tc: an ingress qdisc on each with a u32 match-all filter whose
   mirred action redirects every frame to the other's egress.  QEMU gets the tap as a descriptor (it runs in a
   network namespace of its own, without privileges: driver/vm_jail.h) behind the guest's virtio-net device, and the
   agent gives the guest's eth0 the interface's MAC, MTU, addresses and routes, read here from the namespace, so
   that whoever set the namespace up, the guest matches it.  The frames never touch the host side's IP stack.

   The tap goes with its last descriptor (QEMU's); the qdiscs on the interface stay until vm_net_release (the
   driver's cleanup: stop, rm, the monitor after the VM) or the next start, which replaces them. */
#ifndef ISOLA_VM_NET_H
#define ISOLA_VM_NET_H

#include <jansson.h>

#include "base/error.h"

#define VM_NET_TAP "tap0_isola"

struct vm_net
{
  int tap_fd;     /* the tap, for QEMU's -netdev tap,fd=N; -1: the namespace has no interface but lo */
  json_t *config; /* START's "Network": {"Interfaces": [{Name, Mac, Mtu, Addresses: ["a.b.c.d/n"],
                     Addresses6: ["x::y/n"]}], "Routes": [{Destination: "a.b.c.d/n", Gateway: "a.b.c.d" or "", Metric}],
                     "Routes6": [{Destination: "x::/n", Gateway: "x::y", Metric}] (through a gateway)} */
};

/* The tap in the namespace at netns joined to its interface, and what the guest must be told.  The guest mirrors one
   interface: a namespace with several besides lo is refused (ENOTSUP). */
int vm_net_setup (const char *netns, struct vm_net *out, isola_error_t *err);
void vm_net_clear (struct vm_net *n);

/* Removes the redirections set up in the namespace at netns (a namespace that is gone has none left). */
int vm_net_release (const char *netns, isola_error_t *err);

#endif
