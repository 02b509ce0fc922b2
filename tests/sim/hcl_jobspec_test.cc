// Tests for controller/sim/hcl/jobspec.cc, decode.cc and canonicalize.cc: HCL job files to the
// api.Job JSON that POST /v1/jobs/parse answers (jobspec2 @ v2.0.5), errors as Nomad words them.
#include "controller/sim/hcl/jobspec.h"

#include <gtest/gtest.h>

#include <string>

namespace nsg::sim::hcl {
namespace {

constexpr int64_t kS = 1'000'000'000;

Value MustParse(const std::string& src, const std::string& vars = "", bool canon = false) {
  base::Result<Value> r = ParseJob(src, vars, canon);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Value(nullptr);
}

std::string ErrorOf(const std::string& src, const std::string& vars = "") {
  base::Result<Value> r = ParseJob(src, vars, false);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

constexpr char kFullJob[] = R"(
variable "image" {
  type    = string
  default = "example/app:1"
}
variable "replicas" {
  type    = number
  default = 1
}
locals {
  tag = "${var.image}-tag"
}
job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  node_pool   = "default"
  region      = "global"
  namespace   = "prod"
  priority    = 70
  all_at_once = false
  meta = { "team.name" = "billing" }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  constraint {
    distinct_hosts = true
  }
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 50
  }
  spread {
    attribute = "${node.datacenter}"
    target "dc1" { percent = 70 }
  }
  update {
    max_parallel     = 2
    min_healthy_time = "15s"
  }
  reschedule {
    delay          = "30s"
    delay_function = "exponential"
    unlimited      = true
  }
  migrate { max_parallel = 1 }

  group "app" {
    count = var.replicas
    shutdown_delay = "5s"
    restart {
      attempts = 3
      interval = "1h5m"
      delay    = "500ms"
      mode     = "fail"
    }
    disconnect {
      stop_on_client_after = "1m"
    }
    ephemeral_disk { size = 500 }
    network {
      port "http" { to = 8080 }
      port "admin" { static = 9000 }
    }
    service {
      name = "web"
      port = "http"
      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }
    volume "data" {
      type   = "host"
      source = "data"
    }
    meta {
      role = "primary"
    }

    task "server" {
      driver = "docker"
      user   = "nobody"
      config {
        image = var.image
        args  = ["--port", 8080]
        mount {
          type   = "bind"
          target = "/data"
        }
      }
      env = {
        "APP.MODE" = "prod"
        TAG        = local.tag
      }
      resources {
        cpu        = 200
        cores      = 0
        memory     = 256
        memory_max = 512
      }
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      leader         = true
      kill_timeout   = "20s"
      kill_signal    = "SIGTERM"
      shutdown_delay = "1s"
      logs {
        max_files     = 3
        max_file_size = 5
      }
      template {
        data        = <<-EOT
          addr={{ env "NOMAD_ADDR" }}
          EOT
        destination = "local/app.env"
        env         = true
      }
      artifact {
        source = "https://example.com/app.tgz"
      }
      identity {
        env = true
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
        ttl  = "1h"
      }
      volume_mount {
        volume      = "data"
        destination = "/data"
      }
      vault {
        policies = ["app"]
      }
      action "ping" {
        command = "/bin/echo"
        args    = ["pong"]
      }
    }
  }
}
)";

TEST(HclJobspecTest, AFullJob) {
  Value job = MustParse(kFullJob, "replicas = 2\nimage = \"example/app:2\"\n");
  EXPECT_EQ(job["ID"], "web");
  EXPECT_EQ(job["Name"], "web");
  EXPECT_EQ(job["Datacenters"], Value({"dc1", "dc2"}));
  EXPECT_EQ(job["Namespace"], "prod");
  EXPECT_EQ(job["Priority"], 70);
  EXPECT_EQ(job["Meta"], Value({{"team.name", "billing"}}));
  EXPECT_EQ(job["Constraints"][0]["LTarget"], "${attr.kernel.name}");
  EXPECT_EQ(job["Constraints"][0]["Operand"], "=");
  EXPECT_EQ(job["Constraints"][1]["Operand"], "distinct_hosts");
  EXPECT_EQ(job["Constraints"][1]["RTarget"], "true");
  EXPECT_EQ(job["Affinities"][0]["Weight"], 50);
  EXPECT_EQ(job["Spreads"][0]["SpreadTarget"][0]["Value"], "dc1");
  EXPECT_EQ(job["Spreads"][0]["SpreadTarget"][0]["Percent"], 70);
  EXPECT_EQ(job["Update"]["MaxParallel"], 2);
  EXPECT_EQ(job["Update"]["MinHealthyTime"], 15 * kS);
  EXPECT_TRUE(job["Update"]["Stagger"].is_null());
  EXPECT_EQ(job["Reschedule"]["Unlimited"], true);
  // Unset fields are null, as api.Job marshals them (not left out).
  EXPECT_TRUE(job.contains("Periodic") && job["Periodic"].is_null());
  EXPECT_TRUE(job["Type"] == "service");
  const Value& g = job["TaskGroups"][0];
  EXPECT_EQ(g["Name"], "app");
  EXPECT_EQ(g["Count"], 2);  // the var file overrides the default
  EXPECT_EQ(g["ShutdownDelay"], 5 * kS);
  EXPECT_EQ(g["RestartPolicy"]["Interval"], 3900 * kS);
  EXPECT_EQ(g["RestartPolicy"]["Delay"], 500'000'000);
  EXPECT_EQ(g["Disconnect"]["StopOnClientAfter"], 60 * kS);
  EXPECT_TRUE(g["Disconnect"]["Replace"].is_null());
  EXPECT_EQ(g["EphemeralDisk"]["SizeMB"], 500);
  // normalizeNetworkPorts: a static port moves to ReservedPorts.
  EXPECT_EQ(g["Networks"][0]["DynamicPorts"][0]["Label"], "http");
  EXPECT_EQ(g["Networks"][0]["DynamicPorts"][0]["To"], 8080);
  EXPECT_EQ(g["Networks"][0]["ReservedPorts"][0]["Label"], "admin");
  EXPECT_EQ(g["Services"][0]["Checks"][0]["Interval"], 10 * kS);
  EXPECT_EQ(g["Volumes"]["data"]["Name"], "data");
  EXPECT_EQ(g["Volumes"]["data"]["Type"], "host");
  EXPECT_EQ(g["Meta"]["role"], "primary");
  const Value& t = g["Tasks"][0];
  EXPECT_EQ(t["Name"], "server");
  EXPECT_EQ(t["Driver"], "docker");
  EXPECT_EQ(t["User"], "nobody");
  EXPECT_EQ(t["Config"]["image"], "example/app:2");
  EXPECT_EQ(t["Config"]["args"], Value({"--port", 8080}));
  EXPECT_EQ(t["Config"]["mount"], Value::parse(R"([{"target":"/data","type":"bind"}])"));
  EXPECT_EQ(t["Env"], Value({{"APP.MODE", "prod"}, {"TAG", "example/app:2-tag"}}));
  EXPECT_EQ(t["Resources"]["CPU"], 200);
  EXPECT_EQ(t["Resources"]["Cores"], 0);
  EXPECT_EQ(t["Resources"]["MemoryMaxMB"], 512);
  EXPECT_EQ(t["Lifecycle"], Value({{"Hook", "prestart"}, {"Sidecar", true}}));
  EXPECT_EQ(t["Leader"], true);
  EXPECT_EQ(t["KillTimeout"], 20 * kS);
  EXPECT_EQ(t["KillSignal"], "SIGTERM");
  EXPECT_EQ(t["ShutdownDelay"], kS);
  EXPECT_EQ(t["LogConfig"]["MaxFiles"], 3);
  EXPECT_EQ(t["Templates"][0]["EmbeddedTmpl"], "addr={{ env \"NOMAD_ADDR\" }}\n");
  EXPECT_EQ(t["Templates"][0]["ChangeMode"], "restart");  // normalizeTemplates
  EXPECT_EQ(t["Templates"][0]["Splay"], 5 * kS);
  EXPECT_EQ(t["Templates"][0]["Envvars"], true);
  EXPECT_EQ(t["Artifacts"][0]["GetterSource"], "https://example.com/app.tgz");
  EXPECT_EQ(t["VolumeMounts"][0]["Destination"], "/data");
  EXPECT_EQ(t["Vault"]["Policies"], Value({"app"}));
  EXPECT_EQ(t["Vault"]["ChangeMode"], "restart");  // normalizeVault
  EXPECT_EQ(t["Actions"][0]["Name"], "ping");
}

TEST(HclJobspecTest, TheDefaultIdentityMovesToTaskIdentity) {
  Value job = MustParse(kFullJob);
  const Value& t = job["TaskGroups"][0]["Tasks"][0];
  EXPECT_EQ(t["Identity"]["Env"], true);
  EXPECT_EQ(t["Identity"]["Name"], "");
  ASSERT_EQ(t["Identities"].size(), 1u);
  EXPECT_EQ(t["Identities"][0]["Name"], "vault_default");
  EXPECT_EQ(t["Identities"][0]["Audience"], Value({"vault.io"}));
  EXPECT_EQ(t["Identities"][0]["TTL"], 3600 * kS);
  // Named "default" counts too; the slice left behind is empty, not null.
  Value named = MustParse(
      "job \"j\" {\n group \"g\" {\n  task \"t\" {\n   identity {\n    name = \"default\"\n   }\n"
      "  }\n }\n}\n");
  EXPECT_EQ(named["TaskGroups"][0]["Tasks"][0]["Identity"]["Name"], "default");
  EXPECT_EQ(named["TaskGroups"][0]["Tasks"][0]["Identities"], Value::array());
}

TEST(HclJobspecTest, DurationsAreGoDurationStringsOrNanoseconds) {
  auto kill = [](const std::string& v) {
    Value j = MustParse("job \"j\" {\n group \"g\" {\n  task \"t\" {\n   kill_timeout = " + v +
                        "\n  }\n }\n}\n");
    return j["TaskGroups"][0]["Tasks"][0]["KillTimeout"];
  };
  EXPECT_EQ(kill("\"30s\""), 30 * kS);
  EXPECT_EQ(kill("\"1h5m\""), 3900 * kS);
  EXPECT_EQ(kill("\"500ms\""), 500'000'000);
  EXPECT_EQ(kill("\"1.5s\""), 1'500'000'000);
  EXPECT_EQ(kill("1000"), 1000);
  EXPECT_EQ(ErrorOf("job \"j\" {\n group \"g\" {\n  task \"t\" {\n   kill_timeout = \"15\"\n"
                    "  }\n }\n}\n"),
            "input.hcl:4,19-23: Unsuitable value type; Unsuitable duration value: time: missing "
            "unit in duration \"15\"");
}

TEST(HclJobspecTest, UnknownAttributesAndBlocksAreRefusedWithTheirPosition) {
  EXPECT_EQ(ErrorOf("job \"j\" {\n  group \"g\" {\n    cuont = 1\n  }\n}\n"),
            "input.hcl:3,5-10: Unsupported argument; An argument named \"cuont\" is not expected "
            "here. Did you mean \"count\"?");
  EXPECT_EQ(ErrorOf("job \"j\" {\n  bogus {\n  }\n}\n"),
            "input.hcl:2,3-8: Unsupported block type; Blocks of type \"bogus\" are not expected "
            "here.");
  EXPECT_EQ(ErrorOf("job \"j\" {\n  update = {}\n}\n"),
            "input.hcl:2,3-9: Unsupported argument; An argument named \"update\" is not expected "
            "here. Did you mean to define a block of type \"update\"?");
  EXPECT_EQ(ErrorOf("job \"j\" {\n  group {\n  }\n}\n"),
            "input.hcl:2,9-10: Missing name for group; All group blocks must have 1 labels "
            "(name).");
  EXPECT_EQ(ErrorOf("job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      lifecycle {\n"
                    "      }\n    }\n  }\n}\n"),
            "input.hcl:4,17-17: Missing required argument; The argument \"hook\" is required, "
            "but no definition was found.");
  EXPECT_EQ(ErrorOf(""), "<nil>: Missing job block; A job block is required");
}

TEST(HclJobspecTest, FileFunctionIsRefusedAsWithAllowFsFalse) {
  EXPECT_EQ(ErrorOf("job \"j\" {\n  meta = { k = file(\"/etc/passwd\") }\n}\n"),
            "input.hcl:2,16-21: Error in function call; Call to function \"file\" failed: "
            "filesystem function disabled.");
}

TEST(HclJobspecTest, VariablesDefaultsAndVarFileOverrides) {
  const std::string src =
      "variable \"dc\" {\n  default = \"dc1\"\n}\nvariable \"n\" {\n  type = number\n"
      "  default = 1\n}\nvariables {\n  region = \"eu\"\n}\njob \"j\" {\n"
      "  datacenters = [var.dc]\n  region = var.region\n  priority = var.n\n}\n";
  Value plain = MustParse(src);
  EXPECT_EQ(plain["Datacenters"], Value({"dc1"}));
  EXPECT_EQ(plain["Region"], "eu");
  EXPECT_EQ(plain["Priority"], 1);
  Value over = MustParse(src, "dc = \"dc9\"\nn = \"7\"\nunknown = 1\n");
  EXPECT_EQ(over["Datacenters"], Value({"dc9"}));
  EXPECT_EQ(over["Priority"], 7);  // converted to the declared type
  EXPECT_EQ(ErrorOf(src, "n = \"many\"\n"),
            "input.hcl:1,5-11: Invalid value for variable; The value for n is not compatible "
            "with the variable's type constraint: a number is required.");
  EXPECT_EQ(ErrorOf(src, "n = \n"),
            "unable to parse var content: input.hcl:1,5-6: Missing expression; Expected the "
            "start of an expression, but found the end of the line.");
  EXPECT_EQ(ErrorOf("variable \"x\" {}\njob \"j\" {}\n"),
            "<nil>: Unset variable \"x\"; A used variable must be set or have a default value; "
            "see https://developer.hashicorp.com/nomad/docs/reference/hcl2/variables  for "
            "details.");
}

TEST(HclJobspecTest, CanonicalizeFillsApiDefaults) {
  Value job = MustParse("job \"j\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n"
                        "    }\n  }\n}\n",
                        "", /*canon=*/true);
  EXPECT_EQ(job["Region"], "global");
  EXPECT_EQ(job["Namespace"], "default");
  EXPECT_EQ(job["Type"], "service");
  EXPECT_EQ(job["Priority"], 50);
  EXPECT_EQ(job["NodePool"], "");
  EXPECT_TRUE(job["Datacenters"].is_null());  // the server, not the api package, fills ["*"]
  EXPECT_EQ(job["Update"]["MaxParallel"], 1);
  EXPECT_EQ(job["Update"]["ProgressDeadline"], 600 * kS);
  const Value& g = job["TaskGroups"][0];
  EXPECT_EQ(g["Count"], 1);
  EXPECT_EQ(g["EphemeralDisk"]["SizeMB"], 300);
  EXPECT_EQ(g["RestartPolicy"]["Attempts"], 2);
  EXPECT_EQ(g["ReschedulePolicy"]["DelayFunction"], "exponential");
  EXPECT_EQ(g["Migrate"]["HealthCheck"], "checks");
  EXPECT_EQ(g["Update"]["MaxParallel"], 1);
  const Value& t = g["Tasks"][0];
  EXPECT_EQ(t["Resources"]["CPU"], 100);
  EXPECT_EQ(t["Resources"]["MemoryMB"], 300);
  EXPECT_EQ(t["KillTimeout"], 5 * kS);
  EXPECT_EQ(t["LogConfig"]["MaxFiles"], 10);
  EXPECT_EQ(t["RestartPolicy"], g["RestartPolicy"]);
  EXPECT_TRUE(t["Identity"].is_null());  // the default identity is the server's
  // A batch job: no update block, batch restart and reschedule defaults; a job-level block is
  // merged under the group's.
  Value batch = MustParse("job \"b\" {\n  type = \"batch\"\n  reschedule {\n    attempts = 4\n  }\n"
                          "  group \"g\" {\n    reschedule {\n      delay = \"9s\"\n    }\n  }\n}\n",
                          "", true);
  EXPECT_TRUE(batch["Update"].is_null());
  EXPECT_EQ(batch["TaskGroups"][0]["ReschedulePolicy"]["Attempts"], 4);
  EXPECT_EQ(batch["TaskGroups"][0]["ReschedulePolicy"]["Delay"], 9 * kS);
  EXPECT_EQ(batch["TaskGroups"][0]["ReschedulePolicy"]["DelayFunction"], "constant");
  EXPECT_EQ(batch["TaskGroups"][0]["RestartPolicy"]["Attempts"], 3);
}

TEST(HclJobspecTest, JobLevelTasksVaultAndPeriodic) {
  Value job = MustParse(
      "job \"p\" {\n  type = \"batch\"\n  periodic {\n    crons = [\"*/5 * * * *\"]\n  }\n"
      "  vault {\n    policies = [\"p\"]\n  }\n  task \"solo\" {\n    driver = \"exec\"\n  }\n}\n");
  EXPECT_EQ(job["Periodic"]["SpecType"], "cron");
  EXPECT_EQ(job["Periodic"]["Specs"], Value({"*/5 * * * *"}));
  EXPECT_EQ(job["TaskGroups"][0]["Name"], "solo");
  EXPECT_EQ(job["TaskGroups"][0]["Tasks"][0]["Vault"]["Policies"], Value({"p"}));
  EXPECT_EQ(job["TaskGroups"][0]["Tasks"][0]["Vault"]["Env"], true);
}

TEST(HclJobspecTest, JsonJobspecsAreRefusedClearly) {
  EXPECT_NE(ErrorOf("{\"Job\": {}}").find("HCL job files only"), std::string::npos);
}

}  // namespace
}  // namespace nsg::sim::hcl
