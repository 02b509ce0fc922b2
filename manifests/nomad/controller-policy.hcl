# What nomad-singleton's controller does with Nomad, as one ACL policy (README.md in this
# directory explains each rule). Nomad cannot express all of it: writing ACL policies and
# seeing a lock's holder need a MANAGEMENT token, so on a cluster with ACLs the controller runs
# with a management token, and this policy records everything else it does. It is not enough
# on its own to run the controller.
#
#   nomad acl policy apply -description "nomad-singleton (non-management part)" \
#       nomad-singleton-controller manifests/nomad/controller-policy.hcl

# Jobs and allocations in every namespace a spec may name: list and read jobs (the informer;
# Job and Allocation event topics), register and plan them (submit-job covers both),
# parse template specs written as HCL (parse-job), stop extra allocations (alloc-lifecycle).
# Deregister with --prune is covered by submit-job.
namespace "*" {
  capabilities = ["list-jobs", "read-job", "submit-job", "parse-job", "alloc-lifecycle"]

  # Lock variables: the holder's allocation is in the variable's Items, the lock itself in its
  # metadata. The controller lists them (the lock watcher on Nomad 1.x) and reads them.
  variables {
    path "*" {
      capabilities = ["list", "read"]
    }
    # The controller replicas' leader lock (--leader-lock-path, default nomad-singleton/leader):
    # acquire, renew, release.
    path "nomad-singleton/*" {
      capabilities = ["list", "read", "write"]
    }
  }
}

# The Node event topic and GET /v1/nodes (lost and down nodes explain lost allocations).
node {
  policy = "read"
}

# GET /v1/agent/self: the server's version, checked before the first sync.
agent {
  policy = "read"
}
