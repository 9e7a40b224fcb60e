#!/usr/bin/env python3
# Baseline for `npm run bench`: the TRACE-log decoder from the incident write-up
# (shared/seed/incident-writeup.zh.txt, section "日志解析脚本"), transcribed with its indentation restored.
# The decoding logic is unchanged. Only the last two lines of the original, which hard-coded
# decode_iptable_rules('0101.txt') and decode_trace_log('020405B4...', iptables_map, 'iptables.log'),
# now take the same three values from the command line:
#
#   python3 trace_decoder.py <iptables-save file> <trace log> <OPT>
#
# With OPT '' every line is decoded (''.find returns 0): that is its "explain-all" mode.
# Output is coloured (ANSI), exactly as in the write-up; redirect it to /dev/null when timing.
import sys


class bcolors:
    RED = '\033[0;31;40m'
    GREEN = '\033[0;32;40m'
    YELLOW = '\033[0;33;40m'
    BLUE = '\033[0;34;40m'
    PUERPLE = '\033[0;35;40m'
    CYAN = '\033[0;36;40m'
    GRAY = '\033[0;37;40m'
    ENDC = '\033[0m'

    @staticmethod
    def green(data):
        return bcolors.GREEN + data + bcolors.ENDC

    @staticmethod
    def red(data):
        return bcolors.RED + data + bcolors.ENDC

    @staticmethod
    def yellow(data):
        return bcolors.YELLOW + data + bcolors.ENDC

    @staticmethod
    def blue(data):
        return bcolors.BLUE + data + bcolors.ENDC

    @staticmethod
    def puerple(data):
        return bcolors.PUERPLE + data + bcolors.ENDC

    @staticmethod
    def cyan(data):
        return bcolors.CYAN + data + bcolors.ENDC

    @staticmethod
    def gray(data):
        return bcolors.GRAY + data + bcolors.ENDC


def decode_iptable_rules(iptables_file):
    iptables_map = dict()
    with open(iptables_file,'rt') as rfile:
        table_name = ''
        table_info = dict()
        meta = dict()
        for line in rfile:
            # decode table name
            if line.startswith('*'):
                if table_name:
                    table_info['meta'] = meta
                    iptables_map[table_name] = table_info
                    meta = dict()
                    table_info = dict()
                table_name = line.split('*')[1].strip()
            # decode chain and get the policy for the chain
            elif line.startswith(':'):
                chain_name = line.split(':')[1].split()[0]
                table_info[chain_name] = list()
                policy = line.split(':')[1].split()[1]
                meta[chain_name] = policy
            # decode rule information
            elif line.strip().startswith('-A'):
                chain_name = line.split()[1]
                chain_list = table_info.get(chain_name,list())
                chain_list.append(line.strip())
                table_info[chain_name] = chain_list
        table_info['meta'] = meta
        iptables_map[table_name] = table_info
    return iptables_map


def decode_trace_log(opt,iptables_map,trace_file='iptables.log'):
    with open(trace_file,'rt') as rfile:
        for line in rfile:
            try:
                if line.find(opt) <0:
                    continue
                print(bcolors.cyan(line.strip()))
                trace_flag = line.split('TRACE:')[1].strip().split()[0]
                table_name,chain_name,action_name,rule_number = trace_flag.split(':')
                rule_number = int(rule_number)
                table = iptables_map.get(table_name,'')
                meta = table.get('meta',{})
                chain = table.get(chain_name,list())
                if rule_number <= len(chain):
                    print(bcolors.green('{},{},rule match'.format(table_name,chain[rule_number-1]) ))
                elif action_name == 'policy':
                    print(bcolors.blue('{},{},match policy of {}'.format(table_name,chain_name,meta[chain_name])))
                elif action_name == 'return':
                    if len(chain) == 0:
                        print(bcolors.gray('chain is None,skip to return'))
                    else:
                        print(bcolors.gray('{},skip to return'.format(chain[-1])))
                print('\n')
            except Exception as err:
                print(err)


if len(sys.argv) != 4:
    sys.exit('usage: trace_decoder.py <iptables-save file> <trace log> <OPT>  (OPT \'\' decodes every line)')
iptables_map = decode_iptable_rules(sys.argv[1])
decode_trace_log(sys.argv[3],iptables_map,sys.argv[2])
