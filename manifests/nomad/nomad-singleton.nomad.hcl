# The nomad-singleton controller, run by Nomad itself (manifests/nomad/README.md).
#
#   nomad var put -namespace=default nomad/jobs/nomad-singleton token=@token.txt status_token=@status.txt
#   nomad job run -var 'specs_source=git::https://git.example.com/ops/singletons.git//prod' \
#       manifests/nomad/nomad-singleton.nomad.hcl
#
# Two allocations on different nodes run `controller --leader-elect`: one leads (holds the
# Nomad Variable lock nomad-singleton/leader and writes), the other waits and takes over within
# 2T + D = 35 s when the leader dies, at once when it is stopped (docs/controller.md,
# "Leader election"). manifests/nomad/nomad-singleton.json is the same job as API JSON.

variable "image" {
  type        = string
  description = "The image built from the repository's Dockerfile, pushed where the clients pull from."
  default     = "nomad-singleton:0.1.0"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "specs_source" {
  type        = string
  description = "go-getter source of the spec directory (git::URL//SUBDIR); fetched at task start."
  default     = "git::https://git.example.com/ops/singletons.git//prod"
}

variable "specs_ref" {
  type        = string
  description = "The git ref (branch, tag or commit) of the specs; change it (or re-run the job) to roll out new specs."
  default     = "main"
}

job "nomad-singleton" {
  type        = "service"
  namespace   = "default"
  datacenters = var.datacenters
  priority    = 80

  meta {
    specs_ref = var.specs_ref
  }

  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "controller" {
    count = 2

    # One replica per node: a node failure then costs at most the leader, never both.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "http" {
        to = 9464
      }
    }

    # Prometheus finds the replicas with nomad_sd_configs (service "nomad-singleton-metrics").
    # Both are scraped; only the leader exports per-singleton series (docs/controller.md).
    service {
      name     = "nomad-singleton-metrics"
      provider = "nomad"
      port     = "http"
      tags     = ["metrics", "prometheus"]

      check {
        name     = "healthz"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    task "controller" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
        args = [
          "controller",
          "--specs", "${NOMAD_TASK_DIR}/specs",
          "--leader-elect",
          "--http-addr", "0.0.0.0:9464",
          "--http-token-file", "${NOMAD_SECRETS_DIR}/status-token",
          "--token-file", "${NOMAD_SECRETS_DIR}/nomad-token",
          "--log-format", "json",
        ]
      }

      # The local client agent, which forwards to the servers. Nomad sets NOMAD_REGION and
      # NOMAD_NAMESPACE (the leader lock's namespace) in the task's environment. With TLS use
      # https:// and add NOMAD_CACERT (and a client certificate if the agents verify clients;
      # README.md, "TLS").
      env {
        NOMAD_ADDR = "http://${attr.unique.network.ip-address}:4646"
      }

      # The spec directory: a git checkout by Nomad's artifact fetcher (go-getter; the client
      # needs git). It is fetched when the task starts; a new spec_ref (or `nomad job run` again
      # after a push to a branch) rolls it out one replica at a time.
      artifact {
        source      = var.specs_source
        destination = "local/specs"
        options {
          ref = var.specs_ref
        }
      }

      # The controller's Nomad token, from the Nomad Variable nomad/jobs/nomad-singleton, which
      # this job's workload identity may read without any policy. change_mode noop: the
      # controller re-reads the file when it changes (--token-file), so a rotation costs no restart.
      template {
        destination = "secrets/nomad-token"
        change_mode = "noop"
        perms       = "0400"
        uid         = 10001
        gid         = 10001
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/nomad-singleton" }}{{ .token }}{{ end -}}
        EOT
      }

      # The bearer token /status asks for (it is served on a non-loopback address).
      template {
        destination = "secrets/status-token"
        change_mode = "noop"
        perms       = "0400"
        uid         = 10001
        gid         = 10001
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/nomad-singleton" }}{{ .status_token }}{{ end -}}
        EOT
      }

      # SIGTERM: the leader stops its workers and releases the leader lock (the standby leads
      # within milliseconds); the elector's stop bound K is 5 s.
      kill_signal  = "SIGTERM"
      kill_timeout = "15s"

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
