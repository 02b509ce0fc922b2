// Job validation of the Nomad model, the server's checks of a registered job: ValidateJob and its
// rules for task groups, tasks, restart, reschedule and disconnect policies, with go-multierror's
// message format (MultiErrorText) (nomad-api.md §5.2, §9, §10). Declared in job_rules.h.
#include "controller/sim/job_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "controller/base/duration.h"
#include "controller/nomad/limits.h"

namespace nsg::sim {

using base::Duration;
using namespace std::chrono_literals;

std::string MultiErrorText(const std::vector<std::string>& errors) {
  if (errors.empty()) return "";
  if (errors.size() == 1) return "1 error occurred:\n\t* " + errors[0] + "\n\n";
  std::string out = std::to_string(errors.size()) + " errors occurred:\n\t";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) out += "\n\t";
    out += "* " + errors[i];
  }
  return out + "\n\n";
}

namespace {

std::string GoDur(Duration d) { return base::FormatDuration(d); }

std::vector<std::string> ValidateRestart(const nomad::RestartPolicy& r) {
  std::vector<std::string> errs;
  if (r.mode != "delay" && r.mode != "fail") {
    errs.push_back("Unsupported restart mode: \"" + r.mode + "\"");
  }
  if (r.attempts == 0 && r.mode != "fail") {
    errs.push_back("Restart policy \"" + r.mode + "\" with " + std::to_string(r.attempts) +
                   " attempts is ambiguous");
  }
  if (r.interval < 5s) {
    errs.push_back("Interval can not be less than 5s (got " + GoDur(r.interval) + ")");
  }
  if (r.delay * r.attempts > r.interval) {
    errs.push_back("Nomad can't restart the TaskGroup " + std::to_string(r.attempts) +
                   " times in an interval of " + GoDur(r.interval) + " with a delay of " +
                   GoDur(r.delay));
  }
  return errs;
}

// viableAttempts of nomad/structs ReschedulePolicy.
bool ViableAttempts(const nomad::ReschedulePolicy& r, int* possible, Duration* recommended) {
  *possible = 0;
  *recommended = Duration(0);
  bool valid = true;
  if (r.delay_function == "constant") {
    *recommended = r.delay * r.attempts;
    if (r.interval < *recommended) {
      *possible = r.delay.count() > 0 ? static_cast<int>(r.interval / r.delay) : 0;
      valid = false;
    }
  } else if (r.delay_function == "exponential") {
    for (int i = 0; i < r.attempts; ++i) {
      Duration next = r.delay * (int64_t{1} << std::min(i, 40));
      if (next > r.max_delay) {
        next = r.max_delay;
        *recommended += next;
      } else {
        *recommended = next;
      }
      if (*recommended < r.interval) ++*possible;
    }
    if (*possible < r.attempts) valid = false;
  } else if (r.delay_function == "fibonacci") {
    std::vector<Duration> slots = {r.delay, r.delay};
    bool ceiling = false;
    for (int i = 2; i < r.attempts; ++i) {
      Duration next;
      if (ceiling) {
        next = slots[i - 1] + r.max_delay;
      } else {
        next = slots[i - 1] + slots[i - 2];
        if (next > r.max_delay) {
          next = r.max_delay;
          ceiling = true;
        }
      }
      slots.push_back(next);
    }
    *recommended = slots.back();
    if (r.interval < *recommended) {
      valid = false;
      for (size_t i = 0; i < slots.size(); ++i) {
        if (slots[i] > r.interval) {
          *possible = static_cast<int>(i);
          break;
        }
      }
    }
  } else {
    return false;
  }
  return valid;
}

std::vector<std::string> ValidateReschedule(const nomad::ReschedulePolicy& r) {
  std::vector<std::string> errs;
  if (!(r.attempts > 0 || r.unlimited)) return errs;  // disabled: not validated (Nomad code)
  if (r.attempts > 0) {
    if (r.interval.count() <= 0) {
      errs.push_back("Interval must be a non zero value if Attempts > 0");
    }
    if (r.unlimited) {
      errs.push_back("Reschedule Policy with Attempts = " + std::to_string(r.attempts) +
                     ", Interval = " + GoDur(r.interval) + ", and Unlimited = true is ambiguous");
      errs.push_back("If Attempts >0, Unlimited cannot also be set to true");
    }
  }
  bool precheck = true;
  if (r.delay < 5s) {
    errs.push_back("Delay cannot be less than 5s (got " + GoDur(r.delay) + ")");
    precheck = false;
  }
  if (r.delay_function != "constant" && r.delay_function != "exponential" &&
      r.delay_function != "fibonacci") {
    errs.push_back("Invalid delay function \"" + r.delay_function +
                   "\", must be one of [\"constant\" \"exponential\" \"fibonacci\"]");
    precheck = false;
  }
  if (r.delay_function != "constant") {
    if (r.max_delay < 5s) {
      errs.push_back("Max Delay cannot be less than 5s (got " + GoDur(r.delay) + ")");
      precheck = false;
    }
    if (r.max_delay < r.delay) {
      errs.push_back("Max Delay cannot be less than Delay " + GoDur(r.delay) + " (got " +
                     GoDur(r.max_delay) + ")");
      precheck = false;
    }
  }
  if (!r.unlimited) {
    if (r.interval < 15s) {
      errs.push_back("Interval cannot be less than 15s (got " + GoDur(r.interval) + ")");
    }
    if (!precheck) return errs;
    int possible = 0;
    Duration recommended{0};
    if (!ViableAttempts(r, &possible, &recommended)) {
      std::vector<std::string> inner;
      if (r.delay_function == "constant") {
        inner.push_back("Nomad can only make " + std::to_string(possible) + " attempts in " +
                        GoDur(r.interval) + " with initial delay " + GoDur(r.delay) +
                        " and delay function \"" + r.delay_function + "\"");
      } else {
        inner.push_back("Nomad can only make " + std::to_string(possible) + " attempts in " +
                        GoDur(r.interval) + " with initial delay " + GoDur(r.delay) +
                        ", delay function \"" + r.delay_function + "\", and delay ceiling " +
                        GoDur(r.max_delay));
      }
      Duration rounded = std::chrono::round<std::chrono::seconds>(recommended);
      inner.push_back("Set the interval to at least " + GoDur(rounded) + " to accommodate " +
                      std::to_string(r.attempts) + " attempts");
      for (auto& e : inner) errs.push_back(e);
    }
  }
  return errs;
}

std::vector<std::string> ValidateDisconnect(const nomad::Disconnect& d, const std::string& type) {
  std::vector<std::string> errs;
  if (d.stop_on_client_after) {
    if (d.stop_on_client_after->count() < 0) {
      errs.push_back("stop_after cannot be a negative duration");
    }
    if (type != nomad::kJobTypeService && type != nomad::kJobTypeBatch) {
      errs.push_back("stop_after can only be used with service or batch job types");
    }
  }
  if (d.lost_after.count() < 0) errs.push_back("lost_after cannot be a negative duration");
  if (d.stop_on_client_after && d.lost_after.count() != 0) {
    errs.push_back("Disconnect cannot be configured with both lost_after and stop_after");
    return errs;
  }
  static const std::set<std::string> kReconcile = {"", "best_score", "longest_running",
                                                   "keep_original", "keep_replacement"};
  if (!kReconcile.count(d.reconcile)) {
    errs.push_back("reconcile option is invalid: " + d.reconcile);
  }
  return errs;
}

std::vector<std::string> ValidateTask(const nomad::Task& t, const nomad::TaskGroup& tg,
                                      const nomad::Job& job) {
  std::vector<std::string> errs;
  if (t.driver.empty()) errs.push_back("Missing task driver");
  if (t.kill_timeout && t.kill_timeout->count() < 0) {
    errs.push_back("KillTimeout must be a positive value");
  } else if (auto e = nomad::KillTimeoutError(job.type, tg, t)) {
    errs.push_back(*e);
  }
  if (t.lifecycle) {
    const std::string& h = t.lifecycle->hook;
    if (h != "prestart" && h != "poststart" && h != "poststop") {
      errs.push_back("invalid hook: " + h);
    }
  }
  return errs;
}

std::vector<std::string> ValidateGroup(const nomad::TaskGroup& tg, const nomad::Job& job) {
  std::vector<std::string> errs;
  if (tg.name.empty()) errs.push_back("Missing task group name");
  if (tg.count < 0) errs.push_back("Task group count can't be negative");
  if (tg.tasks.empty()) errs.push_back("Missing tasks for task group");
  if (tg.restart_policy) {
    // multierror.Append flattens nested lists into the group's list.
    for (auto& e : ValidateRestart(*tg.restart_policy)) errs.push_back(e);
  } else {
    errs.push_back("Task Group " + tg.name + " should have a restart policy");
  }
  if (job.type == "system" || job.type == "sysbatch") {
    if (tg.reschedule_policy) errs.push_back("System jobs should not have a reschedule policy");
  } else if (tg.reschedule_policy) {
    for (auto& e : ValidateReschedule(*tg.reschedule_policy)) errs.push_back(e);
  } else {
    errs.push_back("Task Group " + tg.name + " should have a reschedule policy");
  }
  for (auto& e : nomad::UpdateBlockErrors(job.type, tg)) errs.push_back(e);
  if (tg.disconnect) {
    for (auto& e : ValidateDisconnect(*tg.disconnect, job.type)) errs.push_back(e);
  }
  std::map<std::string, size_t> seen;
  int leaders = 0;
  for (size_t i = 0; i < tg.tasks.size(); ++i) {
    const nomad::Task& t = tg.tasks[i];
    if (t.name.empty()) {
      errs.push_back("Task " + std::to_string(i + 1) + " missing name");
    } else if (auto it = seen.find(t.name); it != seen.end()) {
      errs.push_back("Task " + std::to_string(i + 1) + " redefines '" + t.name + "' from task " +
                     std::to_string(it->second + 1));
    } else {
      seen[t.name] = i;
    }
    if (t.leader) ++leaders;
  }
  if (leaders > 1) errs.push_back("Only one task may be marked as leader");
  for (const nomad::Task& t : tg.tasks) {
    auto e = ValidateTask(t, tg, job);
    if (!e.empty()) errs.push_back("Task " + t.name + " validation failed: " + MultiErrorText(e));
  }
  return errs;
}

}  // namespace

std::vector<std::string> ValidateJob(const nomad::Job& job) {
  std::vector<std::string> errs;
  if (job.region.empty()) errs.push_back("Missing job region");
  if (auto e = nomad::JobIdError(job.id)) errs.push_back(*e);
  if (job.name.empty()) errs.push_back("Missing job name");
  static const std::set<std::string> kTypes = {"service", "batch", "system", "sysbatch"};
  if (job.type.empty()) {
    errs.push_back("Missing job type");
  } else if (!kTypes.count(job.type)) {
    errs.push_back("Invalid job type: \"" + job.type + "\"");
  }
  if (job.priority < 1 || job.priority > 100) {
    errs.push_back("Job priority must be between [1, 100]");
  }
  if (job.task_groups.empty()) errs.push_back("Missing job task groups");
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < job.task_groups.size(); ++i) {
    const nomad::TaskGroup& tg = job.task_groups[i];
    if (tg.name.empty()) {
      errs.push_back("Job task group " + std::to_string(i + 1) + " missing name");
    } else if (auto it = seen.find(tg.name); it != seen.end()) {
      errs.push_back("Job task group " + std::to_string(i + 1) + " redefines '" + tg.name +
                     "' from group " + std::to_string(it->second + 1));
    } else {
      seen[tg.name] = i;
    }
  }
  for (const nomad::TaskGroup& tg : job.task_groups) {
    auto e = ValidateGroup(tg, job);
    if (!e.empty()) {
      errs.push_back("Task group " + tg.name + " validation failed: " + MultiErrorText(e));
    }
  }
  if (job.periodic && job.periodic->enabled) {
    if (job.type != nomad::kJobTypeBatch) {
      errs.push_back("Periodic can only be used with \"batch\" scheduler");
    }
    if (job.periodic->spec_type != "cron") {
      errs.push_back("Periodic validation failed: Unknown periodic specification type \"" +
                     job.periodic->spec_type + "\"");
    } else if (auto c = ParseCron(job.periodic->spec); !c.ok()) {
      errs.push_back("Periodic validation failed: " +
                     MultiErrorText({"Invalid cron spec \"" + job.periodic->spec +
                                     "\": " + c.status().message()}));
    }
  }
  return errs;
}

}  // namespace nsg::sim
