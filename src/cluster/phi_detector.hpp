// The phi accrual failure detector (Hayashibara et al., "The phi accrual failure detector",
// 2004), as Akka and Cassandra use it: the gaps between heartbeat answers are kept in a sliding
// window; phi is how unlikely it is, on a log10 scale, that the next answer is merely late,
// given the time since the last one and a normal distribution fitted to the window. phi 1 means
// a 10% chance of a false suspicion, phi 8 one in 10^8. The acceptable pause is added to the
// mean, so a garbage-collection pause of that length raises no suspicion. Pure: no clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

namespace distribute::cluster {

struct PhiOptions {
    std::chrono::milliseconds first_interval{1000};  // the assumed gap before two answers came
    std::chrono::milliseconds acceptable_pause{3000};
    std::chrono::milliseconds min_std_deviation{100};
    std::size_t window = 100;
};

class PhiDetector {
  public:
    using Duration = std::chrono::duration<double, std::milli>;
    explicit PhiDetector(PhiOptions options);

    // An answer arrived `since_last` after the previous one.
    void add_interval(Duration since_last);
    // Suspicion after `elapsed` without an answer; 0 right after one, growing without bound.
    double phi(Duration elapsed) const;

    double mean() const;
    double std_deviation() const;
    std::size_t samples() const { return intervals_.size(); }

  private:
    PhiOptions options_;
    std::deque<double> intervals_;  // milliseconds
    double sum_ = 0;
    double sum_of_squares_ = 0;
};

}  // namespace distribute::cluster
