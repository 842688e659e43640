// Streaming readers shared by the importers (internal to host/lists/).
#pragma once

#include <algorithm>
#include <cctype>
#include <istream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "host/common/error.h"

namespace hashmatch::import_detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads lines ('\n' or "\r\n") with a length limit; line() is the 1-based number of the line last
// returned. A UTF-8 byte-order mark at the very start is dropped.
class LineReader {
 public:
  LineReader(std::istream& in, std::size_t max_bytes) : sb_(in.rdbuf()), max_(max_bytes) {}

  bool next(std::string& line) {
    line.clear();
    using traits = std::char_traits<char>;
    int c = sb_->sbumpc();
    if (c == traits::eof()) return false;
    ++line_;
    while (c != traits::eof() && c != '\n') {
      line.push_back(static_cast<char>(c));
      if (line.size() > max_) {
        throw InvalidArgument("line " + std::to_string(line_) + ": longer than " +
                              std::to_string(max_) + " bytes");
      }
      c = sb_->sbumpc();
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    return true;
  }
  std::size_t line() const { return line_; }
  // After next() threw for a line too long: drops the rest of that line, so that reading can go
  // on with the next one.
  void skip_rest_of_line() {
    using traits = std::char_traits<char>;
    for (int c = sb_->sbumpc(); c != traits::eof() && c != '\n'; c = sb_->sbumpc()) {
    }
  }

 private:
  std::streambuf* sb_;
  std::size_t max_;
  std::size_t line_ = 0;
};

// RFC 4180 records: fields separated by `delim`, records by CRLF or LF; a field may be quoted
// with '"' (then it may hold delimiters, line breaks and "" for a quote). Errors name the line.
class CsvReader {
 public:
  CsvReader(std::istream& in, char delim, std::size_t max_record_bytes)
      : sb_(in.rdbuf()), delim_(delim), max_(max_record_bytes) {}

  // The next record's fields; false at the end of the input.
  bool next(std::vector<std::string>& fields) {
    using traits = std::char_traits<char>;
    fields.clear();
    if (pending_ && sb_->sgetc() == traits::eof()) {  // the header from skip_preamble is read
      sb_ = real_;
      pending_.reset();
    }
    int c = sb_->sgetc();
    if (c == traits::eof()) return false;
    ++line_;
    record_line_ = line_;
    std::size_t bytes = 0;
    std::string field;
    for (;;) {
      // At the start of a field.
      field.clear();
      c = sb_->sgetc();
      if (c == '"') {
        const std::size_t opened = line_;
        sb_->sbumpc();
        for (;;) {
          c = sb_->sbumpc();
          if (c == traits::eof()) {
            throw InvalidArgument("line " + std::to_string(opened) +
                                  ": unterminated quoted field (the file ends inside it)");
          }
          if (c == '"') {
            if (sb_->sgetc() == '"') {
              sb_->sbumpc();
              field.push_back('"');
              continue;
            }
            break;  // closing quote
          }
          if (c == '\n') ++line_;
          field.push_back(static_cast<char>(c));
          if (++bytes > max_) too_long();
        }
        c = sb_->sgetc();
        if (c == '\r') {
          sb_->sbumpc();
          c = sb_->sgetc();
          if (c != '\n' && c != traits::eof()) bad_after_quote();
        }
        if (c != delim_ && c != '\n' && c != traits::eof()) bad_after_quote();
      } else {
        for (;;) {
          c = sb_->sgetc();
          if (c == traits::eof() || c == '\n' || c == delim_) break;
          if (c == '"') {
            throw InvalidArgument("line " + std::to_string(line_) +
                                  ": quote character inside an unquoted field (quote the whole "
                                  "field and double the quote)");
          }
          sb_->sbumpc();
          field.push_back(static_cast<char>(c));
          if (++bytes > max_) too_long();
        }
        if (!field.empty() && field.back() == '\r' && c != delim_) field.pop_back();
      }
      fields.push_back(std::move(field));
      // After a field: delimiter, end of record or end of input.
      c = sb_->sbumpc();
      if (c == delim_) continue;
      return true;  // '\n' or EOF
    }
  }
  std::size_t record_line() const { return record_line_; }

  // Skips what may precede the header, as format detection does: a UTF-8 byte-order mark, then
  // blank lines (blanks and tabs only) and '#' comment lines, counted in the line numbers. A '#'
  // line that `is_header` takes for the header (a spreadsheet's "#" row-number column; it gets
  // the line without its indentation) is the header. Call before the first next().
  template <class IsHeader>
  void skip_preamble(const IsHeader& is_header) {
    for (bool first = true;; first = false) {
      std::string line;
      if (!read_line(line)) return;
      std::string_view v = line;
      if (first && v.substr(0, 3) == "\xEF\xBB\xBF") v.remove_prefix(3);
      std::string_view t = v;
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
      if (t.empty() || (t.front() == '#' && !is_header(t))) {
        ++line_;
        continue;
      }
      // The header, without its indentation (blanks that are not the delimiter): next() reads it
      // from here first, with the lines a quoted cell spans (quotes counted once each, the whole
      // bounded as a record is).
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t') && v.front() != delim_) {
        v.remove_prefix(1);
      }
      pending_text_ = std::string(v);
      std::size_t quotes = static_cast<std::size_t>(std::count(v.begin(), v.end(), '"'));
      while (quotes % 2 == 1 && read_line(line)) {
        quotes += static_cast<std::size_t>(std::count(line.begin(), line.end(), '"'));
        pending_text_ += line;
        if (pending_text_.size() > max_) {
          record_line_ = line_ + 1;
          too_long();
        }
      }
      pending_ = std::make_unique<std::stringbuf>(pending_text_);
      real_ = sb_;
      sb_ = pending_.get();
      return;
    }
  }

 private:
  [[noreturn]] void too_long() {
    throw InvalidArgument("line " + std::to_string(record_line_) + ": record longer than " +
                          std::to_string(max_) + " bytes");
  }
  [[noreturn]] void bad_after_quote() {
    throw InvalidArgument("line " + std::to_string(line_) +
                          ": unexpected character after a closing quote (a quote inside a quoted "
                          "field must be doubled)");
  }
  // One line with its '\n' (none at the end of the input); false at the end of the input.
  bool read_line(std::string& line) {
    using traits = std::char_traits<char>;
    line.clear();
    for (int c = sb_->sbumpc(); c != traits::eof(); c = sb_->sbumpc()) {
      line.push_back(static_cast<char>(c));
      if (c == '\n') break;
      if (line.size() > max_) {
        record_line_ = line_ + 1;
        too_long();
      }
    }
    return !line.empty();
  }
  std::streambuf* sb_;
  char delim_;
  std::size_t max_;
  std::size_t line_ = 0;
  std::size_t record_line_ = 0;
  std::string pending_text_;  // the header line(s) found by skip_preamble
  std::unique_ptr<std::stringbuf> pending_;
  std::streambuf* real_ = nullptr;  // the input, while the header is read from pending_
};

// A filter over a JSON text's bytes (a streambuf to parse from) that cuts every string longer
// than `max_bytes`: the rest of such a string up to its closing quote is dropped (at a character
// boundary and never inside an escape, so the JSON stays valid), so a parser that builds each
// string whole (nlohmann's SAX) holds at most `max_bytes` of one. `cut()` says whether the last
// string that ended was cut (ask in the parser's callback for it).
class JsonStringCap : public std::streambuf {
 public:
  JsonStringCap(std::streambuf* src, std::size_t max_bytes) : src_(src), max_(max_bytes) {}
  bool cut() const { return cut_; }
  // Bytes dropped so far (a position in the filtered text plus this is one in the input, for a
  // position past the cut strings).
  std::size_t dropped() const { return dropped_; }

 protected:
  // Output ends after each string's closing quote: the parser has read up to that quote (and
  // made its callback) before the next string starts, so cut() speaks of the string it just read.
  int_type underflow() override {
    out_.clear();
    for (;;) {
      if (pos_ == len_in_) {
        const std::streamsize n = src_->sgetn(in_, sizeof(in_));
        if (n <= 0) break;
        pos_ = 0;
        len_in_ = static_cast<std::size_t>(n);
      }
      if (take(static_cast<unsigned char>(in_[pos_++])) || out_.size() >= sizeof(in_)) break;
    }
    if (out_.empty()) return traits_type::eof();
    setg(out_.data(), out_.data(), out_.data() + out_.size());
    return traits_type::to_int_type(out_[0]);
  }

 private:
  // Filters one byte; true when it closed a string.
  bool take(unsigned char c) {
    if (!in_string_) {
      if (c == '"') {
        in_string_ = true;
        escape_ = high_ = cut_ = false;
        hex_left_ = 0;
        len_ = 0;
      }
      out_.push_back(static_cast<char>(c));
      return false;
    }
    bool boundary = false;  // may the string be cut before c?
    if (escape_) {          // the letter of an escape
      escape_ = false;
      if (c == 'u') {
        hex_left_ = 4;
        hex_ = 0;
      } else {
        high_ = false;
      }
    } else if (hex_left_ > 0) {  // a digit of \uXXXX
      hex_ = hex_ * 16 + static_cast<unsigned>(std::isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      if (--hex_left_ == 0) high_ = hex_ >= 0xD800 && hex_ <= 0xDBFF;
    } else if (c == '\\') {
      escape_ = true;
      boundary = !high_;  // not between the two halves of a surrogate pair
    } else if (c == '"') {
      in_string_ = false;
      out_.push_back('"');
      return true;
    } else {
      high_ = false;
      boundary = c < 0x80 || c >= 0xC0;  // not inside a UTF-8 sequence
    }
    if (!cut_ && boundary && len_ >= max_) cut_ = true;  // nothing more passes until the quote
    if (cut_) {
      ++dropped_;
      return false;
    }
    ++len_;
    out_.push_back(static_cast<char>(c));
    return false;
  }
  std::streambuf* src_;
  std::size_t max_;
  char in_[1 << 16];
  std::vector<char> out_;
  bool in_string_ = false, escape_ = false, high_ = false, cut_ = false;
  int hex_left_ = 0;
  unsigned hex_ = 0;
  std::size_t len_ = 0;               // the current string's bytes passed
  std::size_t dropped_ = 0;
  std::size_t pos_ = 0, len_in_ = 0;  // in_[pos_, len_in_) not yet filtered
};

}  // namespace hashmatch::import_detail
