#include "cluster/phi_detector.hpp"

#include <algorithm>
#include <cmath>

namespace distribute::cluster {

namespace {

// Past this, the chance of a late answer underflows a double: phi is capped there.
constexpr double max_phi = 300.0;

}  // namespace

PhiDetector::PhiDetector(PhiOptions options) : options_(options) {
    if (options_.window == 0) options_.window = 1;
    // Two samples around the assumed first interval, as Akka seeds its window: the mean is that
    // interval and the deviation a quarter of it until real answers come.
    const double first = static_cast<double>(options_.first_interval.count());
    add_interval(Duration(first - first / 4));
    add_interval(Duration(first + first / 4));
}

void PhiDetector::add_interval(Duration since_last) {
    const double ms = std::max(0.0, since_last.count());
    intervals_.push_back(ms);
    sum_ += ms;
    sum_of_squares_ += ms * ms;
    while (intervals_.size() > options_.window) {
        const double old = intervals_.front();
        intervals_.pop_front();
        sum_ -= old;
        sum_of_squares_ -= old * old;
    }
}

double PhiDetector::mean() const {
    return sum_ / static_cast<double>(intervals_.size());
}

double PhiDetector::std_deviation() const {
    const double m = mean();
    const double variance =
        std::max(0.0, sum_of_squares_ / static_cast<double>(intervals_.size()) - m * m);
    return std::sqrt(variance);
}

double PhiDetector::phi(Duration elapsed) const {
    const double mu = mean() + static_cast<double>(options_.acceptable_pause.count());
    const double sigma =
        std::max(std_deviation(), static_cast<double>(options_.min_std_deviation.count()));
    // P(an answer still comes later than `elapsed`) for a normal distribution.
    const double later = 0.5 * std::erfc((elapsed.count() - mu) / (sigma * std::sqrt(2.0)));
    if (later <= 0.0) return max_phi;
    return std::min(max_phi, -std::log10(later));
}

}  // namespace distribute::cluster
