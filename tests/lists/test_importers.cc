// Importers on well-formed and malformed inputs: field mappings, errors that name the line or
// record, nothing half-imported, format detection, and streaming of a large VICS file with
// bounded memory.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "host/common/error.h"
#include "host/lists/import_util.h"
#include "host/lists/importers.h"
#include "host/lists/list_store.h"
#include "tests/lists/lists_testutil.h"
#include "tests/testutil/testutil.h"

namespace hashmatch {
namespace {

class Importers : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<ListStore>((dir_ / "l.db").string());
    rng_.seed(test::fresh_seed(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }

  ImportSummary import(const std::string& text, ListFormat f = ListFormat::kAuto,
                       std::optional<HashAlgo> algo = std::nullopt, const std::string& list = "l") {
    std::istringstream in(text);
    ImportOptions o;
    o.format = f;
    o.algo = algo;
    return import_stream(*store_, list, in, "test-input", o);
  }

  // Expects the import to fail; checks nothing changed and returns the message.
  std::string import_error(const std::string& text, ListFormat f = ListFormat::kAuto,
                           std::optional<HashAlgo> algo = std::nullopt) {
    const int64_t before = entries();
    const int64_t version = store_->version();
    try {
      import(text, f, algo);
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(entries(), before) << "half-imported";
      EXPECT_EQ(store_->version(), version);
      EXPECT_NE(std::string(e.what()).find("nothing was imported"), std::string::npos);
      return e.what();
    }
    ADD_FAILURE() << "import did not fail:\n" << text.substr(0, 400);
    return "";
  }

  int64_t entries(const std::string& list = "l") {
    return store_->find_list(list) ? store_->stats(list).entries : 0;
  }
  std::vector<StoredEntry> all(const std::string& list = "l") {
    return test::all_entries(*store_, list);
  }
  std::string hex(int n) { return test::random_hex(rng_, n); }

  test::TempDir dir_;
  std::unique_ptr<ListStore> store_;
  std::mt19937_64 rng_;
};

#define EXPECT_MENTIONS(msg, part) \
  EXPECT_NE((msg).find(part), std::string::npos) << "message: " << (msg) << "\nexpected: " << (part)

// ---------------------------------------------------------------------------------------------
// Format detection

TEST(ImportFormat, DetectedFromContent) {
  EXPECT_EQ(detect_format("<?xml version=\"1.0\"?><queryResult/>"), ListFormat::kNcmec);
  EXPECT_EQ(detect_format("\xEF\xBB\xBF  {\"value\": []}"), ListFormat::kVics);
  EXPECT_EQ(detect_format("# hma export\npdq " + std::string(64, 'a') + "\n"), ListFormat::kTe);
  EXPECT_EQ(detect_format("photodna AAAA\n"), ListFormat::kTe);  // then: unknown type, named
  EXPECT_EQ(detect_format("id,md5,category\n1,abc,2\n"), ListFormat::kCsv);
  EXPECT_EQ(detect_format("hash\tid\n"), ListFormat::kTsv);
  EXPECT_EQ(detect_format("md5\n" + std::string(32, 'a') + "\n"), ListFormat::kCsv);
  EXPECT_EQ(detect_format(std::string(32, 'a') + "\n" + std::string(40, 'b')), ListFormat::kLines);
  EXPECT_EQ(detect_format("\n\n" + std::string(64, 'f') + "\r\n"), ListFormat::kLines);
  EXPECT_EQ(parse_format("te"), ListFormat::kTe);
  EXPECT_EQ(parse_format("NCMEC"), ListFormat::kNcmec);
  EXPECT_FALSE(parse_format("yaml"));
}

TEST(ImportFormat, BareHashAlgorithmByLength) {
  EXPECT_EQ(parse_bare_hash(std::string(32, 'a'), std::nullopt).algo, HashAlgo::kMd5);
  EXPECT_EQ(parse_bare_hash(std::string(40, 'a'), std::nullopt).algo, HashAlgo::kSha1);
  EXPECT_EQ(parse_bare_hash(std::string(64, 'a'), std::nullopt).algo, HashAlgo::kPdq);
  EXPECT_EQ(parse_bare_hash(std::string(64, 'a'), HashAlgo::kSha256).algo, HashAlgo::kSha256);
  EXPECT_EQ(parse_bare_hash(std::string(32, 'A'), HashAlgo::kMd5).to_hex(), std::string(32, 'a'));
  EXPECT_THROW(parse_bare_hash(std::string(33, 'a'), std::nullopt), InvalidArgument);
  EXPECT_THROW(parse_bare_hash(std::string(32, 'a'), HashAlgo::kSha1), InvalidArgument);
  EXPECT_THROW(parse_bare_hash(std::string(31, 'a') + "g", std::nullopt), InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// ThreatExchange / HMA signal files

TEST_F(Importers, ThreatExchangeSignals) {
  const std::string pdq = hex(64), vmd5 = hex(32), md5 = hex(32), sha256 = hex(64);
  const ImportSummary s = import("# exported\n\npdq " + pdq + "\nvideo_md5 " + vmd5 + "\r\nmd5 " +
                                 md5 + "\nsha256\t" + sha256 + "\npdq " + pdq + "\n");
  EXPECT_EQ(s.format, "te");
  EXPECT_EQ(s.records, 5);
  EXPECT_EQ(s.imported, 4);
  EXPECT_EQ(s.duplicates, 1);
  const auto e = all();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].hash.algo, HashAlgo::kPdq);
  EXPECT_EQ(e[0].hash.to_hex(), pdq);
  EXPECT_EQ(e[0].id, pdq);  // no id in the format: the hash is the id
  EXPECT_EQ(e[1].hash.algo, HashAlgo::kMd5);
  EXPECT_EQ(e[1].labels.tags, std::vector<std::string>{"video_md5"});
  EXPECT_EQ(e[3].hash.algo, HashAlgo::kSha256);
  EXPECT_EQ(e[3].origin, "line 6");
}

TEST_F(Importers, ThreatExchangeErrorsNameTheLine) {
  import("pdq " + hex(64) + "\n");  // something already there that must survive
  EXPECT_MENTIONS(
      import_error("pdq " + hex(64) + "\nmd5 " + hex(32) + "\nphotodna " + hex(32) + "\n",
                   ListFormat::kTe),
      "line 3: unknown signal type 'photodna'");
  EXPECT_MENTIONS(import_error("pdq " + hex(64) + "\npdq " + hex(63) + "\n"), "line 2: bad pdq");
  EXPECT_MENTIONS(import_error("md5 " + hex(31) + "x\n"),
                  "invalid hex character 'x' at position 32");
  EXPECT_MENTIONS(import_error("pdq\n", ListFormat::kTe), "line 1: expected '<type> <value>'");
  EXPECT_MENTIONS(import_error("pdq " + hex(64) + " extra\n"), "line 1: expected '<type> <value>'");
}

// ---------------------------------------------------------------------------------------------
// CSV / TSV / lines

TEST_F(Importers, CsvWithHeaderQuotingAndLabels) {
  const std::string m1 = hex(32), s1 = hex(40), m2 = hex(32), p3 = hex(64);
  const std::string csv =
      "ID,MD5,SHA1,Category,Source,Tags,ignored\r\n"
      "r1," +
      m1 + "," + s1 +
      ",A1,\"NCMEC, industry\",\"a;b | c\",x\r\n"
      "\"r2 \"\"quoted\"\"\"," +
      m2 + ",,B1,,\"multi\nline\",y\r\n";
  const ImportSummary s = import(csv);
  EXPECT_EQ(s.format, "csv");
  EXPECT_EQ(s.records, 2);
  EXPECT_EQ(s.imported, 3);
  const auto e = all();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].id, "r1");
  EXPECT_EQ(e[1].id, "r1");  // one record, two fingerprints
  EXPECT_EQ(e[0].hash.to_hex(), m1);
  EXPECT_EQ(e[1].hash.to_hex(), s1);
  EXPECT_EQ(e[0].labels.category, "A1");
  EXPECT_EQ(e[0].labels.source, "NCMEC, industry");
  EXPECT_EQ(e[0].labels.tags, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(e[2].id, "r2 \"quoted\"");
  EXPECT_EQ(e[2].origin, "line 3");
  EXPECT_EQ(e[2].labels.tags, (std::vector<std::string>{"multi line"}));  // control chars cleaned

  // A generic hash column with an algo column; TSV.
  const ImportSummary t = import(
      "hash\talgo\tid\n" + p3 + "\tpdq\tp3\n" + hex(64) + "\tsha256\ts4\n" + hex(64) + "\t\ts5\n",
      ListFormat::kAuto, std::nullopt, "t");
  EXPECT_EQ(t.format, "tsv");
  const auto te = all("t");
  ASSERT_EQ(te.size(), 3u);
  EXPECT_EQ(te[0].hash.algo, HashAlgo::kPdq);
  EXPECT_EQ(te[1].hash.algo, HashAlgo::kSha256);
  EXPECT_EQ(te[2].hash.algo, HashAlgo::kPdq);  // 64 hex without an algo: PDQ
}

// A tag given with ';' or '|' (the CSV form's tag separators) is stored as those tags, so that a
// CSV export and import give back the labels the store holds, whoever added the entry.
TEST_F(Importers, TagsWithCsvSeparatorsSurviveExportAndImport) {
  const std::string h = hex(64);
  Labels l;
  l.tags = {"x;y", "a|b", " c ", "d"};
  store_->add_entries("l", {NewEntry{HashValue::parse(HashAlgo::kPdq, h), "r1", l}});
  const std::vector<StoredEntry> before = all();
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].labels.tags, (std::vector<std::string>{"x", "y", "a", "b", "c", "d"}));
  std::ostringstream out;
  export_list(*store_, "l", ListFormat::kCsv, out);
  import(out.str(), ListFormat::kCsv, std::nullopt, "copy");
  const std::vector<StoredEntry> after = all("copy");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].labels, before[0].labels);
}

// A line over the reader's limit is an error for that line; skip_rest_of_line() then lets the
// next line be read (`match --pdq-file` goes on after one).
TEST(LineReader, GoesOnAfterALineTooLong) {
  std::istringstream in("short\n" + std::string(100, 'x') + "\nnext\n");
  import_detail::LineReader r(in, 10);
  std::string line;
  ASSERT_TRUE(r.next(line));
  EXPECT_EQ(line, "short");
  EXPECT_THROW(r.next(line), InvalidArgument);
  r.skip_rest_of_line();
  ASSERT_TRUE(r.next(line));
  EXPECT_EQ(line, "next");
  EXPECT_EQ(r.line(), 3u);
  EXPECT_FALSE(r.next(line));
}

TEST_F(Importers, CsvErrorsNameTheLine) {
  const std::string ok = hex(32);
  EXPECT_MENTIONS(import_error("id,md5\n1," + ok + "\n2,\"" + hex(32) + "\n3," + hex(32) + "\n",
                               ListFormat::kCsv),
                  "line 3: unterminated quoted field");
  EXPECT_MENTIONS(import_error("id,md5\n1," + ok + "\n2,ab\"cd\n"),
                  "line 3: quote character inside");
  EXPECT_MENTIONS(import_error("id,md5\n1,\"" + ok + "\"x\n"),
                  "line 2: unexpected character after a closing quote");
  EXPECT_MENTIONS(import_error("id,md5,category\n1," + ok + "\n"),
                  "line 2: 2 fields, the header has 3");
  EXPECT_MENTIONS(import_error("id,md5\n1," + ok + "\n2," + hex(30) + "\n"), "line 3: bad md5");
  EXPECT_MENTIONS(import_error("id,md5\n1," + ok + "\n1," + hex(32) + "\n"),
                  "line 3: duplicate id '1' for md5 (first at line 2)");
  EXPECT_MENTIONS(import_error("id,category\n1,A1\n", ListFormat::kCsv), "no hash column");
  EXPECT_MENTIONS(import_error("id,hash,algo\n1," + ok + ",crc32\n"),
                  "line 2: unknown algorithm 'crc32'");
  EXPECT_MENTIONS(import_error("id,md5\n1,\n"), "line 2: no hash value");
}

// What may precede a CSV/TSV header, as format detection allows it (from a hunt): a byte-order
// mark before a quoted header (Excel's "CSV UTF-8"), blank and '#' lines; later errors keep the
// file's line numbers. A "<type><TAB><hash>" file is TE, and a header row that holds a hash is
// refused instead of the row being lost as a header.
TEST_F(Importers, WhatPrecedesACsvHeader) {
  const std::string a = hex(32), b = hex(32);
  ImportSummary s = import("\xEF\xBB\xBF\"id\",\"md5\"\r\n\"1\",\"" + a + "\"\r\n");
  EXPECT_EQ(s.format, "csv");
  EXPECT_EQ(s.imported, 1);
  s = import("\xEF\xBB\xBF\"id\"\t\"md5\"\n1\t" + b + "\n", ListFormat::kAuto, std::nullopt, "t");
  EXPECT_EQ(s.format, "tsv");
  EXPECT_EQ(s.imported, 1);
  s = import("# exported\n\n  \r\nid,md5\n2," + hex(32) + "\n", ListFormat::kAuto, std::nullopt,
             "c");
  EXPECT_EQ(s.format, "csv");
  EXPECT_EQ(s.imported, 1);
  EXPECT_MENTIONS(import_error("# exported\n\nid,md5\n1," + hex(32) + "\n2,xyz\n"),
                  "line 5: bad md5");
  EXPECT_MENTIONS(import_error("# c\nid,category\n1,A1\n", ListFormat::kCsv),
                  "line 2: the header has no hash column");
  // A header whose first column is '#' (a spreadsheet's row numbers) is a header, not a comment;
  // valid UTF-8 that starts with byte 0xEF is no byte-order mark; rows of tabs only are blank.
  s = import("#,id,md5,category\n1,img1," + hex(32) + ",A1\n2,img2," + hex(32) + ",B1\n",
             ListFormat::kAuto, std::nullopt, "rownum");
  EXPECT_EQ(s.format, "csv");
  EXPECT_EQ(s.imported, 2);
  EXPECT_EQ(all("rownum")[0].id, "img1");
  EXPECT_EQ(all("rownum")[1].labels.category, "B1");
  s = import("#id\tmd5\nimg1\t" + hex(32) + "\n", ListFormat::kAuto, std::nullopt, "hashid");
  EXPECT_EQ(s.format, "tsv");
  EXPECT_EQ(s.imported, 1);
  s = import("\xEF\xBC\xA9\xEF\xBC\xA4,hash\nimg1," + hex(64) + "\n", ListFormat::kAuto,
             std::nullopt, "fullwidth");
  EXPECT_EQ(s.imported, 1);
  s = import("\t\t\n\t# note\nid\tmd5\nx\t" + hex(32) + "\n", ListFormat::kAuto, std::nullopt,
             "tabs");
  EXPECT_EQ(s.format, "tsv");
  EXPECT_EQ(s.imported, 1);
  EXPECT_EQ(all("tabs")[0].id, "x");
  // Only a '#' or '#word' first cell makes a '#' line the header: comments that name hash
  // columns stay comments (from a regression hunt); an indented, quoted header is a header.
  s = import("# exported, md5\n" + hex(32) + "\n", ListFormat::kAuto, std::nullopt, "comment1");
  EXPECT_EQ(s.format, "lines");
  EXPECT_EQ(s.imported, 1);
  s = import("# columns: id, md5\nid,md5\ny," + hex(32) + "\n", ListFormat::kAuto, std::nullopt,
             "comment2");
  EXPECT_EQ(s.imported, 1);
  EXPECT_EQ(all("comment2")[0].id, "y");
  s = import("  \"id\",\"md5\"\nz," + hex(32) + "\n", ListFormat::kAuto, std::nullopt, "indented");
  EXPECT_EQ(s.imported, 1);
  EXPECT_EQ(all("indented")[0].id, "z");
  // A header with an unbalanced quote reads on as one record, bounded as any record is.
  std::string unbalanced = "id,\"md5,category\n";
  while (unbalanced.size() < (std::size_t(3) << 20)) unbalanced += "x," + hex(32) + ",c\n";
  EXPECT_MENTIONS(import_error(unbalanced, ListFormat::kCsv), "longer than");
  // A one-line TE file written with a tab: imported (it was a TSV header, and nothing imported).
  const std::string p = hex(64);
  s = import("pdq\t" + p + "\n", ListFormat::kAuto, std::nullopt, "te");
  EXPECT_EQ(s.format, "te");
  ASSERT_EQ(all("te").size(), 1u);
  EXPECT_EQ(all("te")[0].hash.to_hex(), p);
  EXPECT_MENTIONS(import_error("pdq\t" + hex(64) + "\n", ListFormat::kTsv),
                  "line 1: the header row holds a hash");
  // An error quotes a bad value printable, whatever it holds (a NUL cut the message short).
  EXPECT_MENTIONS(import_error(hex(32) + "\n" + hex(40) + std::string(1, '\0') + "\n"),
                  "is not a hash: 41 characters");
}

// `list export --format csv` writes a row per fingerprint; importing it again changes nothing:
// an id's rows together are its record (the first row dropped the id's other fingerprints, which
// the next rows wrote anew with a new added_at, reported as removed). A fingerprint the new
// import does not give again still goes (from a hunt).
TEST_F(Importers, AnExportImportedAgainChangesNothing) {
  const std::string md5 = hex(32), sha1 = hex(40), pdq = hex(64);
  import("id,md5,sha1,pdq,category\n7," + md5 + "," + sha1 + "," + pdq + ",A1\n");
  sqlite3_exec(store_->handle(), "UPDATE entries SET added_at = 1000", nullptr, nullptr, nullptr);
  std::ostringstream exported;
  export_list(*store_, "l", ListFormat::kCsv, exported);
  ImportSummary s = import(exported.str());
  EXPECT_EQ(s.removed, 0);
  auto e = all();
  ASSERT_EQ(e.size(), 3u);
  for (const StoredEntry& x : e) {
    EXPECT_EQ(x.added_at, 1000) << x.hash.to_hex();
    EXPECT_EQ(x.labels.category, "A1");
  }
  // Rows of id 7 without its sha1: the sha1 goes, the others keep their time.
  s = import("id,algo,hash\n7,md5," + md5 + "\n7,pdq," + pdq + "\n");
  EXPECT_EQ(s.removed, 1);
  e = all();
  ASSERT_EQ(e.size(), 2u);
  for (const StoredEntry& x : e) {
    EXPECT_NE(x.hash.algo, HashAlgo::kSha1);
    EXPECT_EQ(x.added_at, 1000) << x.hash.to_hex();
  }
}

TEST_F(Importers, PlainLines) {
  const ImportSummary s = import(hex(32) + "\n" + hex(40) + "\n\n# c\n" + hex(64) + "\n");
  EXPECT_EQ(s.format, "lines");
  EXPECT_EQ(s.imported, 3);
  const auto e = all();
  EXPECT_EQ(e[0].hash.algo, HashAlgo::kMd5);
  EXPECT_EQ(e[1].hash.algo, HashAlgo::kSha1);
  EXPECT_EQ(e[2].hash.algo, HashAlgo::kPdq);
  import(hex(64) + "\n", ListFormat::kLines, HashAlgo::kSha256, "s");
  EXPECT_EQ(all("s")[0].hash.algo, HashAlgo::kSha256);
  EXPECT_MENTIONS(import_error(hex(32) + "\n" + hex(35) + "\n"), "line 2: ");
  EXPECT_MENTIONS(import_error(hex(40) + "\n", ListFormat::kLines, HashAlgo::kMd5),
                  "line 1: bad md5");
}

// ---------------------------------------------------------------------------------------------
// VICS JSON

TEST_F(Importers, Vics1xCasesWithAlternativeHashes) {
  const std::string m1 = hex(32), s1 = hex(40), m2 = hex(32);
  const std::string json =
      R"({"odata.metadata":"http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Cases",
    "value":[{"CaseNumber":"C-1","Media":[
      {"MediaID":11,"MD5":")" +
      m1 + R"(","Category":1,"VictimIdentified":"true",
       "OffenderIdentified":false,"IsDistributed":true,"Series":"S9","Tags":"t1, t2",
       "MediaFiles":[{"MD5":"ignored","FileName":"x.jpg"}],
       "AlternativeHashes":[{"HashName":"SHA1","HashValue":")" +
      s1 + R"(","MD5":")" + m1 + R"("},
                            {"HashName":"PhotoDNA","HashValue":"AAAA"}],
       "Exifs":[]},
      {"MediaID":12,"MD5":")" +
      m2 + R"(","Category":null}
    ],"Agency":"ignored"}]})";
  const ImportSummary s = import(json);
  EXPECT_EQ(s.format, "vics");
  EXPECT_EQ(s.records, 2);
  EXPECT_EQ(s.imported, 3);
  const auto e = all();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].id, "11");
  EXPECT_EQ(e[0].hash.to_hex(), m1);
  EXPECT_EQ(e[1].id, "11");
  EXPECT_EQ(e[1].hash.algo, HashAlgo::kSha1);
  EXPECT_EQ(e[1].hash.to_hex(), s1);
  EXPECT_EQ(e[0].labels.category, "1");
  EXPECT_EQ(e[0].labels.source, "vics");
  EXPECT_EQ(e[0].labels.tags, (std::vector<std::string>{"victim_identified", "distributed",
                                                        "series:S9", "t1", "t2"}));
  EXPECT_EQ(e[2].id, "12");
  EXPECT_EQ(e[2].labels.category, "");
}

TEST_F(Importers, Vics20MediaAndCasesWrappers) {
  const std::string m1 = hex(32), s1 = hex(40), m2 = hex(32);
  const std::string media =
      R"({"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media",
    "value":[{"MediaID":1,"Category":2,"MD5":")" +
      m1 + R"(","SHA1":")" + s1 + R"(",
              "IsPrecategorized":"false","Series":{"Name":"Named"},"Tags":["x","y"]},
             {"MediaID":"2","MD5":")" +
      m2 + R"("},
             {"MediaID":3,"MediaSize":10}]})";
  const ImportSummary s = import(media);
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.imported, 3);
  EXPECT_EQ(s.skipped, 1);  // a media record without a hash
  auto e = all();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].labels.category, "2");
  EXPECT_EQ(e[0].labels.tags, (std::vector<std::string>{"series:Named", "x", "y"}));
  EXPECT_EQ(e[2].id, "2");

  const std::string cases =
      R"({"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases",
    "value":[{"CaseID":"c1","Media":[{"MediaID":5,"MD5":")" +
      hex(32) + R"("}]},
             {"CaseID":"c2","Media":[{"MediaID":6,"SHA1":")" +
      hex(40) + R"("}]}]})";
  const ImportSummary c = import(cases, ListFormat::kVics, std::nullopt, "c");
  EXPECT_EQ(c.imported, 2);
  e = all("c");
  EXPECT_EQ(e[0].id, "5");
  EXPECT_EQ(e[1].id, "6");
  EXPECT_EQ(e[1].hash.algo, HashAlgo::kSha1);
}

TEST_F(Importers, VicsErrors) {
  const std::string head = R"({"@odata.context":"x#Media","value":[)";
  const std::string good = R"({"MediaID":1,"MD5":")" + hex(32) + R"("},)";
  const std::string full = head + good + R"({"MediaID":2,"MD5":")" + hex(32) + R"("}]})";
  // Truncated anywhere: an error, nothing imported.
  for (std::size_t cut : {full.size() - 1, full.size() - 3, full.size() / 2, head.size() + 5}) {
    EXPECT_MENTIONS(import_error(full.substr(0, cut), ListFormat::kVics), "JSON");
  }
  EXPECT_MENTIONS(import_error(head + good + R"({"MediaID":7,"MD5":"xyz"}]})"),
                  "media record 2 (MediaID 7): bad md5 'xyz'");
  EXPECT_MENTIONS(import_error(head + good + R"({"MediaID":1,"MD5":")" + hex(32) + R"("}]})"),
                  "duplicate id '1' for md5");
  EXPECT_MENTIONS(import_error(R"({"odata.metadata":"x"})", ListFormat::kVics),
                  "no top-level \"value\" array");
  EXPECT_MENTIONS(import_error(head + R"({"MediaID":3,"SHA1":")" + hex(40) +
                               R"(","AlternativeHashes":[{"HashName":"SHA1","HashValue":")" +
                               hex(40) + R"("}]}]})"),
                  "differs from the record's sha1");
  EXPECT_EQ(entries(), 0);
  EXPECT_FALSE(store_->find_list("l"));
}

// A string longer than the cap (1 MiB) is cut as it is read, never held whole (a 200 MiB
// thumbnail took 650 MB): in a field the importer ignores it changes nothing, whatever escapes,
// surrogate pairs and UTF-8 it holds about the cut; in a field it keeps it is an error.
TEST_F(Importers, VicsLongStringsAreNeverHeldWhole) {
  std::string thumb;
  while (thumb.size() < (std::size_t(3) << 20)) {
    thumb += "ab\\n\\\"\\u00e9\\ud83d\\ude00\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x\\\\";
  }
  const std::string md5a = hex(32), md5b = hex(32);
  const std::string doc = R"({"@odata.context":"x#Media","value":[{"MediaID":1,"Thumbnail":")" +
                          thumb + R"(","MD5":")" + md5a + R"(","Category":"c1"},)" +
                          R"({"MediaID":2,"Notes":[")" + thumb + R"("],"MD5":")" + md5b + R"("}]})";
  const ImportSummary s = import(doc, ListFormat::kVics);
  EXPECT_EQ(s.imported, 2);
  const auto e = all();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].hash.to_hex(), md5a);
  EXPECT_EQ(e[0].labels.category, "c1");
  EXPECT_EQ(e[1].hash.to_hex(), md5b);
  EXPECT_MENTIONS(import_error(R"({"@odata.context":"x#Media","value":[{"MediaID":3,"Category":")" +
                                   thumb + R"(","MD5":")" + hex(32) + R"("}]})",
                               ListFormat::kVics),
                  "media record 1: field 'category' is longer than 1048576 bytes");
  EXPECT_MENTIONS(
      import_error(R"({"@odata.context":"x#Media","value":[{"MediaID":3,"Tags":["ok",")" + thumb +
                       R"("],"MD5":")" + hex(32) + R"("}]})",
                   ListFormat::kVics),
      "field 'tags' is longer than");
  // A syntax error after a cut string is placed in the input, not in the cut text.
  const std::string bad = R"({"@odata.context":"x#Media","value":[{"MediaID":4,"Notes":")" + thumb +
                          R"(","MD5":")" + hex(32) + R"("} x]})";
  EXPECT_MENTIONS(import_error(bad, ListFormat::kVics),
                  "(byte " + std::to_string(bad.find("} x]") + 3));
}

// Two hundred thousand media records (~50 MB) streamed: peak memory grows far less than the file
// size.
TEST_F(Importers, LargeVicsFileStreamsWithBoundedMemory) {
  const std::string path = (dir_ / "big.json").string();
  constexpr int kRecords = 200000;
  {
    std::ofstream f(path, std::ios::binary);
    f << R"({"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media","value":[)";
    for (int i = 0; i < kRecords; ++i) {
      if (i) f << ",\n";
      f << R"({"MediaID":)" << i << R"(,"Category":)" << (i % 6) << R"(,"MD5":")" << hex(32)
        << R"(","MediaSize":)" << (1000 + i)
        << R"(,"DateUpdated":"2023-06-07T02:31:49.8300Z","IsPrecategorized":"false","MediaFiles":[{"FileName":"file-)"
        << i << R"(.jpg","FilePath":"/some/long/path/for/padding/only/)" << i << R"("}]})";
    }
    f << "]}";
  }
  const auto file_kib = static_cast<long>(std::filesystem::file_size(path) / 1024);
  const bool reset = test::reset_peak_rss();
  const long base = reset ? test::current_rss_kib() : test::peak_rss_kib();
  // A 2 MiB page cache: what remains is the importer's own memory.
  ListStore small_cache((dir_ / "big.db").string(), true, 2);
  ImportOptions o;
  const ImportSummary s = import_file(small_cache, "big", path, o);
  const long growth = test::peak_rss_kib() - base;
  std::printf("[ memory   ] file %ld KiB, peak RSS growth %ld KiB (peak reset: %s)\n", file_kib,
              growth, reset ? "yes" : "no");
  EXPECT_EQ(s.imported, kRecords);
  EXPECT_EQ(s.format, "vics");
  EXPECT_GT(file_kib, 40 * 1024);
  EXPECT_LT(growth, 32 * 1024) << "the import does not stream";
  EXPECT_LT(growth, file_kib / 2);
}

// ---------------------------------------------------------------------------------------------
// NCMEC XML

std::string ncmec_doc(const std::string& body) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
         "<queryResult xmlns=\"https://hashsharing.ncmec.org/hashsharing/v2\">\n" +
         body + "</queryResult>\n";
}

TEST_F(Importers, NcmecEntriesAndDeletions) {
  const std::string m1 = hex(32), s1 = hex(40), p1 = hex(64), m2 = hex(32);
  const std::string first = ncmec_doc(
      "<images count=\"2\" maxTimestamp=\"2017-10-24T15:10:00Z\">\n"
      "  <image>\n"
      "    <member id=\"42\">Example Member</member>\n"
      "    <timestamp>2017-10-24T15:00:00Z</timestamp>\n"
      "    <id>image1</id>\n"
      "    <classification>A1</classification>\n"
      "    <fingerprints><md5>" +
      m1 + "</md5><sha1>" + s1 + "</sha1><pdq>" + p1 +
      "</pdq><pdna>AAAA...</pdna></fingerprints>\n"
      "    <feedback/>\n"
      "  </image>\n"
      "  <image><member "
      "id=\"43\">M</member><id>image2</id><fingerprints><pdna>x</pdna></fingerprints></image>\n"
      "</images>\n"
      "<videos count=\"1\" maxTimestamp=\"2017-10-24T15:20:00Z\">\n"
      "  <video><member id=\"42\">Example "
      "Member</member><id>video1</id><classification>A2</classification>\n"
      "    <fingerprints><md5>" +
      m2 +
      "</md5><tmk-pdqf rel=\"self\" href=\"/v2/x\"/></fingerprints></video>\n"
      "</videos>\n<paging><next>/v2/entries?start=2001&amp;size=1000</next></paging>\n");
  const ImportSummary s = import(first);
  EXPECT_EQ(s.format, "ncmec");
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.imported, 4);
  EXPECT_EQ(s.skipped, 1);  // image2 has only a PhotoDNA fingerprint
  auto e = all();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].id, "image1");
  EXPECT_EQ(e[0].labels.category, "A1");
  EXPECT_EQ(e[0].labels.source, "ncmec:42");
  EXPECT_EQ(e[0].labels.tags, std::vector<std::string>{"image"});
  EXPECT_EQ(e[2].hash.algo, HashAlgo::kPdq);
  EXPECT_EQ(e[2].hash.to_hex(), p1);
  EXPECT_EQ(e[3].labels.tags, std::vector<std::string>{"video"});

  // An update: image1 reclassified and sent with its MD5 only; video1 deleted.
  const std::string second = ncmec_doc(
      "<images><image><member "
      "id=\"42\">M</member><id>image1</id><classification>A2</classification>"
      "<fingerprints><md5>" +
      m1 +
      "</md5></fingerprints></image></images>\n"
      "<videos><deletedVideo><member id=\"42\">M</member><id>video1</id>"
      "<timestamp>2019-11-25T15:10:00Z</timestamp></deletedVideo></videos>\n");
  const ImportSummary u = import(second);
  EXPECT_EQ(u.imported, 1);
  EXPECT_EQ(u.removed, 3);  // image1's sha1 and pdq, and video1's md5
  e = all();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].id, "image1");
  EXPECT_EQ(e[0].labels.category, "A2");
}

TEST_F(Importers, NcmecErrors) {
  const std::string rec =
      "<images><image><id>i1</id><fingerprints><md5>" + hex(32) + "</md5></fingerprints></image>\n";
  const std::string full = ncmec_doc(rec + "<image><id>i2</id><fingerprints><md5>" + hex(32) +
                                     "</md5></fingerprints></image></images>\n");
  for (std::size_t cut : {full.size() - 2, full.size() - 20, full.size() / 2}) {
    EXPECT_MENTIONS(import_error(full.substr(0, cut), ListFormat::kNcmec), "XML error at line");
  }
  EXPECT_MENTIONS(import_error(ncmec_doc(rec + "<image>\n<fingerprints><md5>" + hex(32) +
                                         "</md5></fingerprints></image></images>")),
                  "line 4 (image): entry without an <id>");
  EXPECT_MENTIONS(import_error(ncmec_doc(rec + "<image><id>i2</id><fingerprints><pdq>" + hex(60) +
                                         "</pdq></fingerprints></image></images>")),
                  "(image id i2): bad pdq");
  EXPECT_MENTIONS(import_error(ncmec_doc(rec + "<image><id>i1</id><fingerprints><md5>" + hex(32) +
                                         "</md5></fingerprints></image></images>")),
                  "duplicate id 'i1' for md5");
  EXPECT_MENTIONS(import_error("<?xml version=\"1.0\"?><other/>"), "expected <queryResult>");
  EXPECT_FALSE(store_->find_list("l"));
}

}  // namespace
}  // namespace hashmatch
