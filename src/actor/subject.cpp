// The error category of typed receives on a subject (the rest of subject.hpp is templates).
#include "distribute/subject.hpp"

namespace distribute {

namespace {

const char* message_of(SubjectErrc e) noexcept {
    switch (e) {
        case SubjectErrc::timeout:
            return "nothing came through the subject in time";
        case SubjectErrc::exited:
            return "the owner was ended by an exit signal";
        case SubjectErrc::decode_failed:
            return "a message came through the subject but does not decode";
    }
    return nullptr;
}

}  // namespace

const std::error_category& subject_category() noexcept {
    static const ErrorCategory<SubjectErrc> category("distribute.subject", message_of);
    return category;
}

std::error_code make_error_code(SubjectErrc e) noexcept {
    return {static_cast<int>(e), subject_category()};
}

}  // namespace distribute
