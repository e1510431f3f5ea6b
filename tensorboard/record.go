package tensorboard

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
)

// castagnoli is the CRC-32C table TFRecord uses; it is never written after
// initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C of b. The mask (rotate right by 15,
// add a constant) keeps a CRC of data that itself holds CRCs from being
// trivially predictable.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

// headerSize is the length (uint64) and its masked CRC (uint32); a record
// then holds the data and the data's masked CRC (uint32).
const headerSize = 12

// appendRecord appends data framed as one TFRecord.
func appendRecord(b, data []byte) []byte {
	var h [8]byte
	binary.LittleEndian.PutUint64(h[:], uint64(len(data)))
	b = append(b, h[:]...)
	b = binary.LittleEndian.AppendUint32(b, maskedCRC(h[:]))
	b = append(b, data...)
	return binary.LittleEndian.AppendUint32(b, maskedCRC(data))
}

// File is an event file's contents.
type File struct {
	Events []Event
	// Torn is the number of bytes after the last whole record: the start of
	// a record whose writer was killed mid-write. 0 means the file ends at a
	// record boundary.
	Torn int
}

// ReadFile reads the event file at path; see Parse.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read event file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("read event file %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes the records of an event file, checking the masked CRC of
// every length and every record. A last record cut short (the file ends
// inside its header or data) is not an error: it is counted in File.Torn.
// A CRC mismatch or an undecodable Event is an error naming the record and
// its byte offset. Parse allocates in proportion to len(b), never to a
// record's claimed length.
func Parse(b []byte) (*File, error) {
	f := &File{}
	off := 0
	for off < len(b) {
		rest := b[off:]
		if len(rest) < headerSize {
			f.Torn = len(rest)
			break
		}
		if got, want := binary.LittleEndian.Uint32(rest[8:12]), maskedCRC(rest[:8]); got != want {
			return nil, fmt.Errorf("record %d at byte %d: length CRC %#08x, want %#08x", len(f.Events), off, got, want)
		}
		n := binary.LittleEndian.Uint64(rest[:8])
		if len(rest) < headerSize+4 || n > uint64(len(rest)-headerSize-4) {
			f.Torn = len(rest)
			break
		}
		data := rest[headerSize : headerSize+int(n)]
		if got, want := binary.LittleEndian.Uint32(rest[headerSize+int(n):]), maskedCRC(data); got != want {
			return nil, fmt.Errorf("record %d at byte %d: data CRC %#08x, want %#08x", len(f.Events), off, got, want)
		}
		e, err := decodeEvent(data)
		if err != nil {
			return nil, fmt.Errorf("record %d at byte %d: event: %w", len(f.Events), off, err)
		}
		f.Events = append(f.Events, e)
		off += headerSize + int(n) + 4
	}
	return f, nil
}
